#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| opk_sshcert::fuzzing::fuzz_parse(data));

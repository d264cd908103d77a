#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| opk_policy::fuzzing::fuzz_check_principal(data));

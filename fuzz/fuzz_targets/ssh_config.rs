#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| opk_sshconfig::fuzzing::fuzz_ssh_config(data));

#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| opk_verify::fuzzing::fuzz_server_config(data));

#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| opk_ziti::fuzzing::fuzz_frame(data));

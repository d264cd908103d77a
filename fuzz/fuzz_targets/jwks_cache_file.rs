#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| opk_jwks::fuzzing::fuzz_cache_file(data));

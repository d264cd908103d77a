#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| opk_pktoken::fuzzing::fuzz_jwks(data));

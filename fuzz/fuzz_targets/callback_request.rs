#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| opk_oidc::fuzzing::fuzz_callback_request(data));

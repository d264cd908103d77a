#![no_main]
// Input: `<compact JWT>\n<expected nonce>`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (jwt, nonce) = text.split_once('\n').unwrap_or((text, ""));
        opk_oidc::fuzzing::fuzz_id_token(jwt, nonce);
    }
});

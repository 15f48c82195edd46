//! The server's query parser: anything a client sends is parsed or refused with a 400.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(refusal) = mirrorlist_server::parse::query(Some(text)) {
            assert_eq!(refusal.status, http::StatusCode::BAD_REQUEST);
        }
    }
});

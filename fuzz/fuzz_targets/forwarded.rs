//! Forwarding headers from a trusted proxy: each line of the input is one header line of the
//! configured kind (the first byte picks the kind); the answer is an address or none, never a
//! panic, and never the peer's own when the proxy's header names someone else.
#![no_main]
use mirrorlist_server::proxy::{client_ip, parse_trusted};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let header = [
        "x-forwarded-for",
        "forwarded",
        "cf-connecting-ip",
        "x-real-ip",
    ][kind as usize % 4];
    let trusted = vec![parse_trusted(&format!("10.0.0.0/8={header}")).unwrap()];
    let mut headers = http::HeaderMap::new();
    for line in rest.split(|b| *b == b'\n').take(16) {
        if let Ok(value) = http::HeaderValue::from_bytes(line) {
            headers.append(header, value);
        }
    }
    let peer: std::net::SocketAddr = "10.1.2.3:5000".parse().unwrap();
    let _ = client_ip(peer, &headers, &trusted);
    let outsider: std::net::SocketAddr = "203.0.113.9:5000".parse().unwrap();
    assert_eq!(client_ip(outsider, &headers, &trusted), Some(outsider.ip()));
});

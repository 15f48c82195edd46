//! repomd.xml as a mirror may send it: read or refused, never a panic; a reason is bounded.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(reason) = mirror_checker::repomd::describe(data, 0) {
        let stored = shared::text::reason(&reason);
        assert!(stored.chars().count() < shared::text::MAX_REASON + 40);
        assert!(!stored.chars().any(char::is_control));
    }
    let _ = mirror_checker::repomd::max_timestamp(data);
});

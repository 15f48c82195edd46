//! The registry judge: any file is accepted, accepted with warnings or rejected with a
//! reason, never a panic; an accepted mirror has a name and a web URL.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (report, mirror) =
            shared::registry::judge_with(text, "fuzz.yml", &shared::registry::Rules::default());
        if let Some(m) = mirror {
            assert!(!m.name.is_empty());
            assert!(!m.urls.is_empty(), "{:?}", report.messages);
        }
    }
});

//! Catalog imports: AlmaLinux's config.yml and the project's TOML, any text, a catalog or a
//! clear error, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(spec) = shared::catalog::import_almalinux_str(text, "config.yml") {
            let _ = shared::catalog::Catalog::from_spec(spec);
        }
        if let Ok(spec) = shared::catalog::CatalogSpec::from_toml(text, "catalog.toml") {
            let _ = shared::catalog::Catalog::from_spec(spec);
        }
    }
});

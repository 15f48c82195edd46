//! The snapshot decoder: any bytes are a snapshot or a clear error, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = shared::snapshot::decode(data, "fuzz.bin");
});

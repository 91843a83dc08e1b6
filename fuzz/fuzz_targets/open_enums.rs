//! libFuzzer entry point; the checks are [`kalshi_fuzz::open_enums`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kalshi_fuzz::open_enums(data));

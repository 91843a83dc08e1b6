//! libFuzzer entry point; the checks are [`kalshi_fuzz::responses`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kalshi_fuzz::responses(data));

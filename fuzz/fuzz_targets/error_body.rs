//! libFuzzer entry point; the checks are [`kalshi_fuzz::error_body`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kalshi_fuzz::error_body(data));

#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| scxml_fuzz::core::document(data));

#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| scxml_fuzz::apps::target_string(data));

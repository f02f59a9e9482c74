#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| scxml_fuzz::apps::sessions_body(data));

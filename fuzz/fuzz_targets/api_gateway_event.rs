#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shared::entry::fuzzing::api_gateway_event(data));

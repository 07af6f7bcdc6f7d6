#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&kind, body)) = data.split_first() {
        shared::entry::fuzzing::login_body(kind, body);
    }
});

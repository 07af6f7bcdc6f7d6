//! Lambda entry point: the app built once per cold start serves every event (shared::entry::lambda).

fn main() -> Result<(), shared::entry::lambda::Error> {
    shared::entry::lambda::serve_http(health::handler)
}

//! Lambda entry point: the app built once per cold start serves every event (shared::lambda).

fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_http(facebook_deauthorize::handler)
}

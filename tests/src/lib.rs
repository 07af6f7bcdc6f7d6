//! The end-to-end tests of social-login live in `tests/api/` (`cargo test -p api-tests --test api`):
//! both APIs over HTTP through the local gateway (`tools/local`), against DynamoDB Local and the
//! provider emulator, with the `spawn_app` helper in `tests/api/helpers.rs`. This library is empty.

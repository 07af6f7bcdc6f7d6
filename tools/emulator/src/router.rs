//! The emulator's route table: every provider under its prefix, the admin routes under
//! `/_emulator/`, and Facebook Graph for everything else (see [`crate::Emulator::router`]).

use std::sync::Arc;

use axum::routing::{any, get, post};
use axum::Router;

use crate::state::Shared;
use crate::{admin, apple_tokens, consent, facebook, github, oidc, twitter};

/// The whole app, sharing `shared`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(facebook::admin_router())
        .route("/_emulator/fault", post(admin::set_fault).get(admin::get_fault))
        .route("/_emulator/stats", get(admin::stats))
        .route("/_emulator", any(admin::not_found))
        .route("/_emulator/{*rest}", any(admin::not_found))
        .merge(consent::router())
        .merge(oidc::router())
        .merge(apple_tokens::router())
        .nest(twitter::PREFIX, twitter::router(shared.clone()))
        .nest("/github", github::router(shared.clone()))
        .nest("/_emulator/twitter", twitter::admin_router())
        .nest("/_emulator/github", github::admin_router())
        .fallback(facebook::graph)
        .with_state(shared)
}

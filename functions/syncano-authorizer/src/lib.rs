//! The `SyncanoUserKey` Lambda authorizer of the HTTP API (payload 2.0, simple responses): a
//! Syncano user key (`X-API-KEY` + `X-USER-KEY`) of the path's `{instance}`, and nothing else. It
//! protects an app's own routes (see the README); this service's routes check their credentials
//! themselves.

use shared::entry::authorizer::{AuthorizerRequest, AuthorizerResponse, Scheme};
use shared::{App, UseCaseError};

pub async fn handler(app: &App, req: AuthorizerRequest) -> Result<AuthorizerResponse, UseCaseError> {
    shared::entry::authorizer::handle(app, Scheme::SyncanoUserKey, req).await
}

//! Scheduled (EventBridge, every 15 minutes): retries the revocations at providers that failed
//! when their account was deleted (`shared::entry::scheduled`, on `shared::usecases::revocation`).

use shared::App;

/// The scheduled event is not read: every run does the same (what is due now).
pub async fn handler(app: &App, _event: serde_json::Value) -> Result<serde_json::Value, shared::UseCaseError> {
    shared::entry::scheduled::handle_scheduled(app).await
}

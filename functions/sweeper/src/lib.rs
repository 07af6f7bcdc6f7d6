//! Scheduled (EventBridge, every 5 minutes): removes expired items and finishes pending changes,
//! found through the `sweep` index (`shared::entry::scheduled`, on `shared::usecases::sweeper`).

use shared::App;

/// The scheduled event is not read: every run goes on from the sweeper's cursor up to now.
pub async fn handler(app: &App, _event: serde_json::Value) -> Result<serde_json::Value, shared::UseCaseError> {
    shared::entry::scheduled::handle_sweep(app).await
}

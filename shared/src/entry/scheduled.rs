//! The scheduled jobs' entry points: `revocation-retry` and `sweeper` (EventBridge schedules, no HTTP).

use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;

/// The `revocation-retry` function: one run over what is due, its report as the result.
pub async fn handle_scheduled(app: &App) -> Result<serde_json::Value, UseCaseError> {
    let report = app.retry_due_revocations().await?;
    serde_json::to_value(report).map_err(|e| UseCaseError::Internal(e.to_string()))
}

/// The `sweeper` function: one run from its cursor, its report as the result.
pub async fn handle_sweep(app: &App) -> Result<serde_json::Value, UseCaseError> {
    let report = app.sweep().await?;
    serde_json::to_value(report).map_err(|e| UseCaseError::Internal(e.to_string()))
}

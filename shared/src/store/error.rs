//! What can go wrong in the store, and the one place an SDK error is sorted into those classes.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("instance not found")]
    InstanceNotFound,
    #[error("instance already exists")]
    InstanceExists,
    /// The instance's sign-up policy is closed: no new user (the allocation of its id refused);
    /// whether the instance links identities by verified email (another may yet link).
    #[error("the instance's sign-up is closed")]
    SignUpClosed { links_by_email: bool },
    /// Throttled, 5xx or unreachable: the caller may retry later (503).
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// Gave up after repeated write conflicts (503).
    #[error("too much contention creating the user")]
    Contention,
    /// Any other DynamoDB error: a bug or a misconfiguration (500).
    #[error("DynamoDB error: {0}")]
    Dynamo(String),
    /// An item that does not have the shape this code writes (500).
    #[error("malformed item: {0}")]
    Corrupt(&'static str),
    /// A user's key was made with a `TOKEN_SECRET` version this deployment no longer has, or this
    /// function has no `TOKEN_SECRET` at all (500).
    #[error("no TOKEN_SECRET of version {0} is configured")]
    RetiredKeyVersion(u32),
}

/// Maps an SDK error to a failure class; the text is for logs only.
pub(super) fn classify<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let retryable_codes = [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    ];
    let detail = format!("{op}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&err));
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(detail)
        }
        SdkError::ServiceError(e) if e.raw().status().is_server_error() => StoreError::Unavailable(detail),
        _ if err.code().is_some_and(|c| retryable_codes.contains(&c)) => StoreError::Unavailable(detail),
        _ => StoreError::Dynamo(detail),
    }
}

pub(super) fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Dynamo(format!("request build: {e}"))
}

/// A transaction DynamoDB cancelled: a condition failed or another transaction won a race (the
/// caller reads again and decides).
pub(super) fn transaction_cancelled(err: &SdkError<TransactWriteItemsError, HttpResponse>) -> bool {
    matches!(err.as_service_error(), Some(TransactWriteItemsError::TransactionCanceledException(_)))
}

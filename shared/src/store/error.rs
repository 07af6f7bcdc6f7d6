//! What can go wrong in the store, and the one place an SDK error is sorted into those classes.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

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
    /// 5xx or unreachable: the caller may retry later (503).
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// DynamoDB throttled a request past the SDK's own retries (a hot partition, the table's or
    /// the account's throughput; a transaction cancelled with `ThrottlingError`; keys a batch left
    /// unprocessed), or an MRSC table's `ReplicatedWriteConflictException` outlasted them (another
    /// region kept writing the item): nothing of it was written, the caller may retry a little
    /// later (503).
    #[error("DynamoDB throttled: {0}")]
    Throttled(String),
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
    let retryable_codes = ["InternalServerError", "ServiceUnavailable"];
    let detail = format!("{op}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&err));
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(detail)
        }
        _ if err.code().is_some_and(|c| THROTTLING_CODES.contains(&c)) => StoreError::Throttled(detail),
        // An MRSC table's write conflict with another region, past the SDK's retries (it retries
        // it as modelled retryable): nothing written, retry a little later, as throttling.
        _ if err.code() == Some(REPLICATED_WRITE_CONFLICT) => StoreError::Throttled(detail),
        SdkError::ServiceError(e) if e.raw().status().is_server_error() => StoreError::Unavailable(detail),
        _ if err.code().is_some_and(|c| retryable_codes.contains(&c)) => StoreError::Unavailable(detail),
        _ => StoreError::Dynamo(detail),
    }
}

/// The error codes of DynamoDB's throttling: a partition's, the table's or the account's
/// throughput exceeded, or the control plane's request rate.
const THROTTLING_CODES: [&str; 3] =
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"];

/// A write that another region of a multi-Region strongly consistent table was writing too.
const REPLICATED_WRITE_CONFLICT: &str = "ReplicatedWriteConflictException";

/// Whether an SDK error is a failed condition (the item is not as the write required).
pub(super) fn is_condition_failed<E>(
    err: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    err.code() == Some("ConditionalCheckFailedException")
}

pub(super) fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Dynamo(format!("request build: {e}"))
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;

    use super::*;

    fn answer(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().expect("a status"), "{}".into())
    }

    fn get_error(code: &str, status: u16) -> SdkError<GetItemError, HttpResponse> {
        SdkError::service_error(GetItemError::generic(ErrorMetadata::builder().code(code).build()), answer(status))
    }

    #[test]
    fn every_throttling_answer_is_throttled_not_unavailable() {
        for code in THROTTLING_CODES {
            assert!(matches!(classify("GetItem", get_error(code, 400)), StoreError::Throttled(_)), "{code}");
        }
        assert!(matches!(classify("GetItem", get_error("InternalServerError", 500)), StoreError::Unavailable(_)));
        assert!(matches!(classify("GetItem", get_error("ValidationException", 400)), StoreError::Dynamo(_)));
    }

    #[test]
    fn a_replicated_write_conflict_past_the_retries_is_throttled() {
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        use aws_sdk_dynamodb::types::error::ReplicatedWriteConflictException;
        let conflict = ReplicatedWriteConflictException::builder()
            .message("another region")
            .meta(ErrorMetadata::builder().code(REPLICATED_WRITE_CONFLICT).build())
            .build();
        let err = SdkError::service_error(PutItemError::ReplicatedWriteConflictException(conflict), answer(400));
        assert!(matches!(classify("PutItem", err), StoreError::Throttled(_)));
        assert!(matches!(classify("GetItem", get_error(REPLICATED_WRITE_CONFLICT, 400)), StoreError::Throttled(_)));
    }
}

//! The two APIs this service speaks: typed requests, responses and error bodies for each.

pub mod rocketchat;
pub mod syncano;

use crate::domain::secret::Secret;
use crate::usecases::error::UseCaseError;

/// Longest provider token accepted (real ones are a few hundred bytes; JWTs a few KiB).
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A provider token as sent by a client. A value that no provider could have issued (control
/// characters, spaces, absurd length) is a rejected token without asking the provider.
pub(crate) fn access_token(value: &str) -> Result<Secret, UseCaseError> {
    if value.len() > MAX_TOKEN_LEN || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UseCaseError::TokenRejected("token is not printable ASCII of sane length".into()));
    }
    Ok(Secret::new(value))
}

/// A client-sent name safe to repeat in an error message.
pub(crate) fn printable(value: &str) -> String {
    if value.len() <= 64 && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        value.to_string()
    } else {
        "(unprintable)".to_string()
    }
}

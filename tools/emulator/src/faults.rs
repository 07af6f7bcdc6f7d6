//! Injected failures: what the emulator does to every Graph request while a fault is set.

use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

use crate::facebook::GraphError;

/// A failure the emulator injects into every Graph request (admin routes are never affected).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Normal operation.
    #[default]
    None,
    /// HTTP 500 with Graph's transient "unexpected error" (code 2).
    Status500,
    /// Never answers: the request sleeps about an hour.
    Hang,
    /// HTTP 200 whose body is not JSON.
    InvalidJson,
    /// HTTP 403 with Graph's application rate limit error (code 4).
    RateLimited,
    /// Accepts the request, then drops the connection without answering.
    CloseConnection,
}

impl Fault {
    /// The name used by the admin route `POST /_emulator/fault`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Status500 => "status500",
            Fault::Hang => "hang",
            Fault::InvalidJson => "invalid_json",
            Fault::RateLimited => "rate_limited",
            Fault::CloseConnection => "close",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error of [`Fault::from_str`]: the name is not one of the admin route's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFault(pub String);

impl fmt::Display for UnknownFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown fault {:?}; expected one of none, status500, hang, invalid_json, rate_limited, close",
            self.0
        )
    }
}

impl std::error::Error for UnknownFault {}

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Ok(Fault::None),
            "status500" | "status_500" | "500" => Ok(Fault::Status500),
            "hang" => Ok(Fault::Hang),
            "invalid_json" | "invalidjson" => Ok(Fault::InvalidJson),
            "rate_limited" | "ratelimited" => Ok(Fault::RateLimited),
            "close" | "close_connection" | "closeconnection" => Ok(Fault::CloseConnection),
            _ => Err(UnknownFault(s.to_string())),
        }
    }
}

/// Put into each request's extensions by the emulator's own accept loop
/// ([`crate::Emulator::spawn`]): notifying it makes the connection task drop the socket.
#[derive(Clone, Debug)]
pub(crate) struct CloseHandle(pub(crate) Arc<Notify>);

/// How long [`Fault::Hang`] keeps a request waiting.
const HANG_FOR: Duration = Duration::from_secs(3600);

/// The response for a Graph request while `fault` is set, or `None` to serve it normally.
pub(crate) async fn apply(fault: Fault, close: Option<CloseHandle>) -> Option<Response> {
    match fault {
        Fault::None => None,
        Fault::Status500 => Some(unexpected_error().into_response()),
        Fault::RateLimited => Some(
            GraphError::new(StatusCode::FORBIDDEN, "OAuthException", 4, "(#4) Application request limit reached")
                .transient()
                .into_response(),
        ),
        Fault::InvalidJson => Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=UTF-8"))],
                "<!DOCTYPE html><html><body>Sorry, something went wrong.</body></html>",
            )
                .into_response(),
        ),
        Fault::Hang => {
            tokio::time::sleep(HANG_FOR).await;
            Some(unexpected_error().into_response())
        }
        Fault::CloseConnection => match close {
            Some(CloseHandle(notify)) => {
                // The connection task drops the socket; this response is never sent.
                notify.notify_one();
                std::future::pending::<()>().await;
                None
            }
            // Served by someone else's server (`Emulator::router`): we cannot reach the
            // socket, so answer with a body that fails at once; hyper then aborts the
            // connection, and the client sees a broken response instead of JSON.
            None => Some(
                Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "application/json; charset=UTF-8")
                    .body(Body::new(AbortBody))
                    .unwrap_or_else(|_| unexpected_error().into_response()),
            ),
        },
    }
}

fn unexpected_error() -> GraphError {
    GraphError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "OAuthException",
        2,
        "An unexpected error has occurred. Please retry your request later.",
    )
    .transient()
}

/// A response body whose first frame is an error, so the server aborts the connection.
struct AbortBody;

impl http_body::Body for AbortBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "emulated fault: connection closed",
        ))))
    }
}

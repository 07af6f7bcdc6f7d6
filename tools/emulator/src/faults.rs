//! Injected failures: what the emulator does to every Graph request while a fault is set.

use std::fmt;
use std::future::Future;
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
    /// HTTP 200, JSON headers and the first half of a `/me` body, then the connection is reset.
    ResetMidBody,
    /// HTTP 200 and JSON headers at once, then the body one byte every [`DRIP_EVERY`]: a
    /// client without a whole-request timeout waits for minutes.
    SlowDrip,
    /// HTTP 200 with a JSON body of [`HUGE_BODY_BYTES`] (a valid `/me`, padded): a client that
    /// reads whatever it is sent runs out of memory.
    HugeBody,
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
            Fault::ResetMidBody => "reset_mid_body",
            Fault::SlowDrip => "slow_drip",
            Fault::HugeBody => "huge_body",
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
            "unknown fault {:?}; expected one of none, status500, hang, invalid_json, rate_limited, close, reset_mid_body, slow_drip, huge_body",
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
            "reset_mid_body" | "resetmidbody" => Ok(Fault::ResetMidBody),
            "slow_drip" | "slowdrip" => Ok(Fault::SlowDrip),
            "huge_body" | "hugebody" => Ok(Fault::HugeBody),
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
/// The pace of [`Fault::SlowDrip`]: its 400-byte body takes 100 s.
pub const DRIP_EVERY: Duration = Duration::from_millis(250);
/// The size of [`Fault::HugeBody`]'s body.
pub const HUGE_BODY_BYTES: usize = 64 << 20;

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
        Fault::SlowDrip => {
            let mut body = br#"{"id":"1","name":"Slow Drip","#.to_vec();
            body.resize(400 - 1, b' ');
            body.push(b'}');
            Some(json_ok(Body::new(FaultBody::Drip { left: Bytes::from(body), wait: None })))
        }
        Fault::HugeBody => Some(json_ok(Body::new(FaultBody::Huge { left: HUGE_BODY_BYTES, opened: false }))),
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
            None => Some(json_ok(Body::new(FaultBody::Abort { first: None }))),
        },
        Fault::ResetMidBody => {
            Some(json_ok(Body::new(FaultBody::Abort { first: Some(Bytes::from_static(br#"{"id":"1","name":"Half"#)) })))
        }
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

/// The broken answer bodies the faults send.
enum FaultBody {
    /// Sends `first` (if any), then fails, so the server aborts the connection.
    Abort { first: Option<Bytes> },
    /// Sends `left` one byte per [`DRIP_EVERY`].
    Drip { left: Bytes, wait: Option<Pin<Box<tokio::time::Sleep>>> },
    /// [`HUGE_BODY_BYTES`] of JSON in 64 KiB frames: a `/me` object, then padding, made as it is
    /// sent (the emulator does not hold it in memory either). `left` bytes are still to come.
    Huge { left: usize, opened: bool },
}

impl http_body::Body for FaultBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let frame = match &mut *self {
            FaultBody::Abort { first } => match first.take() {
                Some(first) => first,
                None => {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "emulated fault: connection closed",
                    ))))
                }
            },
            FaultBody::Drip { left, wait } => {
                if left.is_empty() {
                    return Poll::Ready(None);
                }
                let timer = wait.get_or_insert_with(|| Box::pin(tokio::time::sleep(DRIP_EVERY)));
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                *wait = None;
                left.split_to(1)
            }
            FaultBody::Huge { left, opened } => {
                let frame = if *left == 0 {
                    return Poll::Ready(None);
                } else if !*opened {
                    *opened = true;
                    Bytes::from_static(br#"{"id":"1","name":""#)
                } else if *left == 2 {
                    Bytes::from_static(br#""}"#)
                } else {
                    Bytes::from(vec![b'a'; (*left - 2).min(64 << 10)])
                };
                *left = left.saturating_sub(frame.len());
                frame
            }
        };
        Poll::Ready(Some(Ok(http_body::Frame::data(frame))))
    }
}

/// HTTP 200 with a JSON content type and `body`.
fn json_ok(body: Body) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json; charset=UTF-8")
        .body(body)
        .unwrap_or_else(|_| unexpected_error().into_response())
}

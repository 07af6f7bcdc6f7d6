//! Slowing down repeated rejected logins from one source IP: after `LOGIN_FAILURES_MAX` rejected
//! tokens within a `LOGIN_FAILURE_WINDOW_SECS` window, that IP gets 429 with `Retry-After` until
//! the window ends, without the provider being asked.
//!
//! The count lives in the table (`FAIL#{ip}#{window}`, TTL) so every Lambda instance adds to the
//! same one; the success path costs no request: the count is written only on a rejection, and a
//! Lambda instance remembers in memory which IPs it saw go over the limit. A success is never
//! blocked by someone else's failures on another IP.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::clock;

pub struct FailureLimiter {
    max_failures: u64,
    window: Duration,
    /// IP → epoch second its block ends, as this Lambda instance learned.
    blocked: Mutex<HashMap<String, i64>>,
}

impl FailureLimiter {
    pub fn new(max_failures: u64, window: Duration) -> FailureLimiter {
        FailureLimiter { max_failures, window, blocked: Mutex::new(HashMap::new()) }
    }

    fn window_secs(&self) -> i64 {
        i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX).max(1)
    }

    /// The current window's index and its end (epoch seconds).
    pub fn window(&self) -> (i64, i64) {
        let w = self.window_secs();
        let index = clock::now_secs() / w;
        (index, (index + 1) * w)
    }

    /// Seconds until `ip` may try again, if it is blocked.
    pub fn retry_after(&self, ip: &str) -> Option<i64> {
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let now = clock::now_secs();
        blocked.retain(|_, until| *until > now);
        blocked.get(ip).map(|until| until - now)
    }

    /// Records what the table says after a rejection: `count` failures so far in the window.
    pub fn note_failures(&self, ip: &str, count: u64) {
        if count >= self.max_failures {
            let (_, end) = self.window();
            self.blocked.lock().unwrap_or_else(|e| e.into_inner()).insert(ip.to_string(), end);
        }
    }
}

/// The caller's address as API Gateway saw it (`requestContext.http.sourceIp`).
pub fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.http.source_ip.clone().filter(|ip| !ip.is_empty() && ip.len() <= 64)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_only_at_the_limit_and_only_that_ip() {
        let l = FailureLimiter::new(3, Duration::from_secs(300));
        l.note_failures("203.0.113.1", 2);
        assert_eq!(l.retry_after("203.0.113.1"), None);
        l.note_failures("203.0.113.1", 3);
        let wait = l.retry_after("203.0.113.1").expect("blocked");
        assert!(wait > 0 && wait <= 300, "{wait}");
        assert_eq!(l.retry_after("203.0.113.2"), None);
    }
}

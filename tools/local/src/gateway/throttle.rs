//! API Gateway HTTP API route throttling, as AWS documents it: a token bucket per route of the
//! stage, `ThrottlingBurstLimit` tokens refilled at `ThrottlingRateLimit` a second, one token a
//! request; a request finding the bucket empty is answered 429 `{"message":"Too Many Requests"}`
//! before the authorizer or the function runs. The bucket is the route's, shared by every client:
//! that is what API Gateway does, and why the template's limits are ceilings (docs/security.md,
//! "Flood protection").

use std::sync::Mutex;
use std::time::Instant;

use crate::template::Throttle;

/// One route's bucket.
pub(super) struct Bucket {
    throttle: Throttle,
    /// Tokens left and when they were counted.
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    /// A full bucket.
    pub(super) fn new(throttle: Throttle) -> Bucket {
        Bucket { throttle, state: Mutex::new((throttle.burst as f64, Instant::now())) }
    }

    /// Takes a token at `now`; `false` = throttled.
    pub(super) fn take(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = *state;
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        let tokens = (tokens + elapsed * self.throttle.rate).min(self.throttle.burst as f64);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now.max(last));
            true
        } else {
            *state = (tokens, now.max(last));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let start = Instant::now();
        let bucket = Bucket { throttle: Throttle { rate: 10.0, burst: 20 }, state: Mutex::new((20.0, start)) };
        assert_eq!((0..30).filter(|_| bucket.take(start)).count(), 20, "the burst, then nothing");
        // A tenth of a second later one token is back; a second later ten.
        assert!(bucket.take(start + Duration::from_millis(100)));
        assert!(!bucket.take(start + Duration::from_millis(100)));
        let later = start + Duration::from_millis(1100);
        assert_eq!((0..30).filter(|_| bucket.take(later)).count(), 10);
        // Never more than the burst, however long it rested.
        let much_later = later + Duration::from_secs(3600);
        assert_eq!((0..30).filter(|_| bucket.take(much_later)).count(), 20);
    }

    #[test]
    fn a_zero_limit_refuses_everything() {
        let bucket = Bucket::new(Throttle { rate: 0.0, burst: 0 });
        assert!(!bucket.take(Instant::now()));
    }
}

//! Slowing down repeated rejected logins: after `LOGIN_FAILURES_MAX` rejected tokens from one
//! source IP within a `LOGIN_FAILURE_WINDOW_SECS` window, that IP gets 429 with `Retry-After`
//! until the window ends, without the provider being asked. Rejected logins that claim one
//! provider user (the `sub` of an ID token, the user id of an X token) are counted again under
//! (IP, provider user) against the lower `LOGIN_FAILURES_PER_USER_MAX`: behind one NAT address
//! many people log in, but one of them failing over and over is slowed long before the address.
//! The claimed user is never trusted for more than this, and since every key holds the IP, no
//! one's failures slow anyone on another address.
//!
//! The count lives in the table (`FAIL#{ip}#{window}`, TTL) so every Lambda instance adds to the
//! same one; the success path costs no request: the count is written only on a rejection, and a
//! Lambda instance remembers in memory which IPs it saw go over the limit. A success is never
//! blocked by someone else's failures on another IP.
//!
//! An IPv6 client is counted by its /64 ([`client_key`]): one subscriber usually holds a whole
//! /64, so counting single addresses would let it step around the limit.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Duration;

use crate::app::App;
use crate::clock;
use crate::identity::Provider;
use crate::login::LoginError;
use crate::tokens;

pub struct FailureLimiter {
    max_failures: u64,
    max_per_user: u64,
    window: Duration,
    /// Counter key → epoch second its block ends, as this Lambda instance learned.
    blocked: Mutex<HashMap<String, i64>>,
}

/// The counters one login attempt belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureKeys {
    /// The source IP's key: the IPv4 address, or the IPv6 /64 ([`client_key`]).
    pub ip: String,
    /// `{ip}#U#{hash of provider and claimed user}`, when the credentials name a user.
    pub user: Option<String>,
}

impl FailureKeys {
    /// The counters of a login from `ip` (as API Gateway gives it; see [`client_key`]).
    pub fn new(ip: &str, provider_user: Option<(Provider, &str)>) -> FailureKeys {
        let ip = client_key(ip);
        let ip = ip.as_str();
        let user = provider_user.map(|(provider, sub)| {
            let digest = tokens::sha256_hex(&format!("{}:{sub}", provider.as_str()));
            format!("{ip}#U#{}", &digest[..32])
        });
        FailureKeys { ip: ip.to_string(), user }
    }
}

/// A failure the limiter counts: the provider refused the token. Each layer's error says
/// whether it is one.
pub trait CountedFailure {
    fn is_rejected_token(&self) -> bool;
}

impl CountedFailure for LoginError {
    fn is_rejected_token(&self) -> bool {
        matches!(self, LoginError::TokenRejected(_))
    }
}

impl App {
    /// Runs a login `attempt` from `source_ip` (none, no counting: only API Gateway's own
    /// invocations lack one) claiming to be the provider user `claimed` (what
    /// [`crate::providers::Credentials::claimed_subject`] reads, if anything): refused with 429 while one of its
    /// counters is over its limit (the provider is not asked), and a rejection is counted under
    /// each.
    pub async fn limited<T, E: From<LoginError> + CountedFailure>(
        &self,
        source_ip: Option<&str>,
        claimed: Option<(Provider, String)>,
        attempt: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let Some(ip) = source_ip else { return attempt.await };
        let keys = FailureKeys::new(ip, claimed.as_ref().map(|(p, sub)| (*p, sub.as_str())));
        if let Some(wait) = self.limiter.retry_after(&keys) {
            return Err(LoginError::TooManyFailures(wait).into());
        }
        let result = attempt.await;
        if result.as_ref().is_err_and(CountedFailure::is_rejected_token) {
            let (window, end) = self.limiter.window();
            let counters = std::iter::once((&keys.ip, false)).chain(keys.user.iter().map(|k| (k, true)));
            for (key, per_user) in counters {
                match self.store.count_failure(key, window, end + 60).await {
                    Ok(count) => self.limiter.note_failures(key, per_user, count),
                    // Counting is best effort: the client's answer is the rejection either way.
                    Err(e) => tracing::warn!(error = %e, "could not count a rejected login"),
                }
            }
        }
        result
    }
}

impl FailureLimiter {
    pub fn new(max_failures: u64, max_per_user: u64, window: Duration) -> FailureLimiter {
        FailureLimiter { max_failures, max_per_user, window, blocked: Mutex::new(HashMap::new()) }
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

    /// Seconds until an attempt under `keys` may be tried again, if one of its counters is over.
    pub fn retry_after(&self, keys: &FailureKeys) -> Option<i64> {
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let now = clock::now_secs();
        blocked.retain(|_, until| *until > now);
        std::iter::once(&keys.ip).chain(&keys.user).filter_map(|k| blocked.get(k)).max().map(|until| until - now)
    }

    /// Records what the table says after a rejection: `count` failures so far in the window
    /// under `key` (the IP's own counter when `per_user` is false).
    pub fn note_failures(&self, key: &str, per_user: bool, count: u64) {
        let max = if per_user { self.max_per_user } else { self.max_failures };
        if count >= max {
            let (_, end) = self.window();
            self.blocked.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), end);
        }
    }
}

/// The limiter's key for a source address: an IPv4 address as is; an IPv6 address by its /64
/// (`2001:db8:1:2::/64`, canonical form), since one subscriber usually holds a whole /64 and
/// could otherwise step through 2^64 addresses; an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`)
/// as its IPv4. Anything that does not parse (API Gateway always sends an address) is kept.
pub fn client_key(ip: &str) -> String {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        Err(_) => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_only_at_the_limit_and_only_that_ip() {
        let l = FailureLimiter::new(3, 2, Duration::from_secs(300));
        let ip = FailureKeys::new("203.0.113.1", None);
        l.note_failures(&ip.ip, false, 2);
        assert_eq!(l.retry_after(&ip), None);
        l.note_failures(&ip.ip, false, 3);
        let wait = l.retry_after(&ip).expect("blocked");
        assert!(wait > 0 && wait <= 300, "{wait}");
        assert_eq!(l.retry_after(&FailureKeys::new("203.0.113.2", None)), None);
    }

    #[test]
    fn a_provider_user_is_blocked_per_ip_at_its_own_lower_limit() {
        let l = FailureLimiter::new(10, 2, Duration::from_secs(300));
        let alice = FailureKeys::new("203.0.113.1", Some((Provider::Google, "alice")));
        let user = alice.user.clone().expect("keyed");
        assert!(user.starts_with("203.0.113.1#U#") && !user.contains("alice"), "{user}");
        l.note_failures(&user, true, 2);
        assert!(l.retry_after(&alice).is_some());
        // Same IP, another user or no user: not blocked; same user elsewhere: not blocked.
        assert_eq!(l.retry_after(&FailureKeys::new("203.0.113.1", Some((Provider::Google, "bob")))), None);
        assert_eq!(l.retry_after(&FailureKeys::new("203.0.113.1", None)), None);
        assert_eq!(l.retry_after(&FailureKeys::new("203.0.113.9", Some((Provider::Google, "alice")))), None);
        // Another provider's user of the same id is another user.
        assert_eq!(l.retry_after(&FailureKeys::new("203.0.113.1", Some((Provider::Apple, "alice")))), None);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_by_the_ipv4() {
        assert_eq!(client_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:0DB8:0001:0002::1"), "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:db8::1"), "2001:db8::/64");
        assert_eq!(client_key("::ffff:198.51.100.4"), "198.51.100.4");
        assert_eq!(client_key("::ffff:c633:6404"), "198.51.100.4");
        assert_eq!(client_key("::1"), "::/64");
        assert_eq!(client_key("not-an-ip"), "not-an-ip");
        // Two addresses of one /64 share every counter; another /64 does not.
        let a = FailureKeys::new("2001:db8:1:2::a", Some((Provider::Google, "alice")));
        let b = FailureKeys::new("2001:db8:1:2:ffff::b", Some((Provider::Google, "alice")));
        let c = FailureKeys::new("2001:db8:1:3::a", Some((Provider::Google, "alice")));
        assert_eq!(a, b);
        assert_ne!(a.ip, c.ip);
        let l = FailureLimiter::new(3, 2, Duration::from_secs(300));
        l.note_failures(&a.ip, false, 3);
        assert!(l.retry_after(&b).is_some() && l.retry_after(&c).is_none());
        assert_eq!(FailureKeys::new("::ffff:203.0.113.1", None), FailureKeys::new("203.0.113.1", None));
    }
}

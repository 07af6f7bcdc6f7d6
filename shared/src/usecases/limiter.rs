//! Slowing down repeated rejected logins: after `LOGIN_FAILURES_MAX` rejected tokens from one
//! source IP within a `LOGIN_FAILURE_WINDOW_SECS` window, that IP gets 429 with `Retry-After`
//! until the window ends, without the provider being asked. Rejected logins that claim one
//! provider user (the `sub` of an ID token, the user id of an X token) are counted again under
//! (IP, provider user) against the lower `LOGIN_FAILURES_PER_USER_MAX`: behind one NAT address
//! many people log in, but one of them failing over and over is slowed long before the address.
//! The claimed user is never trusted for more than this, and since every key holds the IP, no
//! one's failures slow anyone on another address.
//!
//! A missed `{"resume": token}` (no live session) is no provider login: it costs the client
//! nothing, so it has its own counter (`RESUME#{ip}`) and limit (`LOGIN_RESUME_MISSES_MAX`) and
//! never blocks the IP's provider logins ([`crate::usecases::app::App::limited_resume`]).
//!
//! The count lives in the table (`FAIL#{counter}#{window}`, TTL) so every Lambda execution
//! environment adds to the same one. The block decision is the table's too, at no extra
//! request on a successful login: the counters of the attempt are read in the same
//! `BatchGetItem` as the identity a login looks up anyway (after the provider accepted the
//! token, before anything is written), and a refusal there is remembered in memory, so the
//! environment refuses the next attempts before the provider is asked. The counters are written
//! only on a rejection. A success is never blocked by someone else's failures on another IP
//! (for IPv6: outside its /48).
//!
//! An IPv6 client is counted by its /64 ([`client_key`]): one subscriber usually holds a whole
//! /64, so counting single addresses would let it step around the limit. Its /56 and /48 are
//! counted too, at [`PREFIX_56_FACTOR`] and [`PREFIX_48_FACTOR`] times the IP limit: a
//! subscriber is often delegated a /56 or a /48, and would otherwise step through 256 or 65,536
//! /64s.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Duration;

use crate::domain::clock;
use crate::domain::identity::Provider;
use crate::domain::tokens;

/// The /56 of an IPv6 client may fail this many times the IP limit (up to 4 busy /64s).
pub const PREFIX_56_FACTOR: u64 = 4;
/// The /48 of an IPv6 client may fail this many times the IP limit (up to 16 busy /64s).
pub const PREFIX_48_FACTOR: u64 = 16;

pub struct FailureLimiter {
    max_failures: u64,
    max_per_user: u64,
    max_resume_misses: u64,
    window: Duration,
    /// Counter key → epoch second its block ends, as this Lambda instance learned.
    blocked: Mutex<HashMap<String, i64>>,
}

/// What a counter counts, which sets its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterKind {
    /// The source IP (IPv4 address, IPv6 /64): `LOGIN_FAILURES_MAX`.
    Ip,
    /// The IPv6 /56: [`PREFIX_56_FACTOR`] × `LOGIN_FAILURES_MAX`.
    Prefix56,
    /// The IPv6 /48: [`PREFIX_48_FACTOR`] × `LOGIN_FAILURES_MAX`.
    Prefix48,
    /// (IP, claimed provider user): `LOGIN_FAILURES_PER_USER_MAX`.
    User,
    /// Missed resumes from the IP: `LOGIN_RESUME_MISSES_MAX`.
    Resume,
}

/// The counters one login attempt belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureKeys {
    /// The source IP's key: the IPv4 address, or the IPv6 /64 ([`client_key`]).
    pub ip: String,
    /// The IPv6 /56 and /48 of the source (none for IPv4).
    pub prefixes: Vec<(String, CounterKind)>,
    /// `{ip}#U#{hash of provider and claimed user}`, when the credentials name a user.
    pub user: Option<String>,
}

impl FailureKeys {
    /// The counters of a login from `ip` (as API Gateway gives it; see [`client_key`]).
    pub fn new(ip: &str, provider_user: Option<(Provider, &str)>) -> FailureKeys {
        let prefixes = wider_prefixes(ip);
        let ip = client_key(ip);
        let ip = ip.as_str();
        let user = provider_user.map(|(provider, sub)| {
            let digest = tokens::sha256_hex(&format!("{}:{sub}", provider.as_str()));
            format!("{ip}#U#{}", &digest[..32])
        });
        FailureKeys { ip: ip.to_string(), prefixes, user }
    }

    /// Every counter with its kind: the IP, its wider prefixes, the (IP, user) pair.
    pub fn counters(&self) -> Vec<(&str, CounterKind)> {
        std::iter::once((self.ip.as_str(), CounterKind::Ip))
            .chain(self.prefixes.iter().map(|(k, kind)| (k.as_str(), *kind)))
            .chain(self.user.iter().map(|k| (k.as_str(), CounterKind::User)))
            .collect()
    }

    /// The counter of missed resumes from this IP.
    pub fn resume(&self) -> String {
        format!("RESUME#{}", self.ip)
    }
}

impl FailureLimiter {
    pub fn new(max_failures: u64, max_per_user: u64, window: Duration) -> FailureLimiter {
        FailureLimiter {
            max_failures,
            max_per_user,
            max_resume_misses: crate::config::DEFAULT_LOGIN_RESUME_MISSES_MAX,
            window,
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// The same, with `max` missed resumes per IP and window.
    pub fn with_resume_misses_max(mut self, max: u64) -> FailureLimiter {
        self.max_resume_misses = max;
        self
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

    /// The limit of a counter of `kind`.
    pub fn limit(&self, kind: CounterKind) -> u64 {
        match kind {
            CounterKind::Ip => self.max_failures,
            CounterKind::Prefix56 => self.max_failures.saturating_mul(PREFIX_56_FACTOR),
            CounterKind::Prefix48 => self.max_failures.saturating_mul(PREFIX_48_FACTOR),
            CounterKind::User => self.max_per_user,
            CounterKind::Resume => self.max_resume_misses,
        }
    }

    /// Seconds until an attempt under `keys` may be tried again, if one of its counters is over.
    pub fn retry_after(&self, keys: &FailureKeys) -> Option<i64> {
        self.retry_after_keys(keys.counters().into_iter().map(|(k, _)| k))
    }

    /// Seconds until an attempt counted under `keys` may be tried again, if one is over.
    pub fn retry_after_keys<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> Option<i64> {
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let now = clock::now_secs();
        blocked.retain(|_, until| *until > now);
        keys.into_iter().filter_map(|k| blocked.get(k)).max().map(|until| until - now)
    }

    /// Records what the table says: `count` failures so far in the window under `key`, a
    /// counter of `kind`.
    pub fn note_failures(&self, key: &str, kind: CounterKind, count: u64) {
        if count >= self.limit(kind) {
            let (_, end) = self.window();
            self.blocked.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), end);
        }
    }
}

/// The /56 and /48 counters of an IPv6 source (canonical form, `2001:db8:1:100::/56`); none for
/// IPv4, an IPv4-mapped address, or anything that does not parse.
pub fn wider_prefixes(ip: &str) -> Vec<(String, CounterKind)> {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            vec![
                (format!("{}/56", Ipv6Addr::new(s[0], s[1], s[2], s[3] & 0xff00, 0, 0, 0, 0)), CounterKind::Prefix56),
                (format!("{}/48", Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0)), CounterKind::Prefix48),
            ]
        }
        _ => Vec::new(),
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
        l.note_failures(&ip.ip, CounterKind::Ip, 2);
        assert_eq!(l.retry_after(&ip), None);
        l.note_failures(&ip.ip, CounterKind::Ip, 3);
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
        l.note_failures(&user, CounterKind::User, 2);
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
        l.note_failures(&a.ip, CounterKind::Ip, 3);
        assert!(l.retry_after(&b).is_some() && l.retry_after(&c).is_none());
        assert_eq!(FailureKeys::new("::ffff:203.0.113.1", None), FailureKeys::new("203.0.113.1", None));
    }

    #[test]
    fn ipv6_clients_are_also_counted_by_their_56_and_48_at_higher_limits() {
        let a = FailureKeys::new("2001:db8:1:1a2:aaaa::1", None);
        assert_eq!(
            a.counters(),
            vec![
                ("2001:db8:1:1a2::/64", CounterKind::Ip),
                ("2001:db8:1:100::/56", CounterKind::Prefix56),
                ("2001:db8:1::/48", CounterKind::Prefix48),
            ]
        );
        assert!(FailureKeys::new("203.0.113.1", None).prefixes.is_empty());
        assert!(FailureKeys::new("::ffff:203.0.113.1", None).prefixes.is_empty());
        let l = FailureLimiter::new(3, 2, Duration::from_secs(300));
        assert_eq!((l.limit(CounterKind::Prefix56), l.limit(CounterKind::Prefix48)), (12, 48));
        l.note_failures("2001:db8:1:100::/56", CounterKind::Prefix56, 11);
        assert_eq!(l.retry_after(&a), None);
        l.note_failures("2001:db8:1:100::/56", CounterKind::Prefix56, 12);
        assert!(l.retry_after(&FailureKeys::new("2001:db8:1:1ff::9", None)).is_some());
        assert_eq!(l.retry_after(&FailureKeys::new("2001:db8:1:200::9", None)), None);
    }

    #[test]
    fn resume_misses_are_their_own_counter() {
        let l = FailureLimiter::new(3, 2, Duration::from_secs(300)).with_resume_misses_max(5);
        let keys = FailureKeys::new("203.0.113.1", None);
        assert_eq!(keys.resume(), "RESUME#203.0.113.1");
        l.note_failures(&keys.resume(), CounterKind::Resume, 5);
        assert_eq!(l.retry_after(&keys), None, "provider logins are not blocked by resume misses");
        assert!(l.retry_after_keys([keys.resume().as_str()]).is_some());
    }
}

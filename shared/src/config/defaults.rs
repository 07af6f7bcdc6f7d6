//! The named defaults and bounds of the deployment-wide settings (timeouts, TTLs, the login
//! limiter, the key sets' refetching, user id blocks, the API key cache) and the endpoint
//! variables a deployment leaves empty. A provider's real endpoints are with its settings
//! ([`super::providers`]).

/// The endpoints a deployment leaves empty, so that the functions talk to AWS's and the
/// providers' real hosts. The template declares each of them empty (`Globals`): SAM's `sam local`
/// only overrides variables the template declares, and the local tools (the local stack, the
/// shipped-binary check, `sam local`'s env-vars file) point them at loopback. An empty value is
/// unset; the DynamoDB and SSM clients read no endpoint from the environment themselves.
pub const ENDPOINT_VARIABLES: [&str; 17] = [
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SSM",
    "ALLOW_INSECURE_PROVIDER_URLS",
    "FACEBOOK_GRAPH_URL",
    "FACEBOOK_LIMITED_JWKS_URL",
    "GOOGLE_JWKS_URL",
    "GOOGLE_TOKENINFO_URL",
    "GOOGLE_USERINFO_URL",
    "TWITTER_API_URL",
    "LINKEDIN_JWKS_URL",
    "LINKEDIN_USERINFO_URL",
    "LINKEDIN_INTROSPECT_URL",
    "APPLE_JWKS_URL",
    "APPLE_TOKEN_URL",
    "APPLE_REVOKE_URL",
    "GITHUB_API_URL",
    "MICROSOFT_AUTHORITY_URL",
];

/// First wait before a failed provider revocation is tried again (`REVOCATION_RETRY_SECS`); it
/// doubles with each attempt up to [`MAX_REVOCATION_BACKOFF_SECS`].
pub const DEFAULT_REVOCATION_RETRY_SECS: u64 = 15 * 60;
pub const MAX_REVOCATION_BACKOFF_SECS: u64 = 86_400;
/// How long a pending revocation is retried before DynamoDB's TTL drops it.
pub const REVOCATION_TTL_DAYS: u64 = 30;
pub const DEFAULT_PROVIDER_TIMEOUT_MS: u64 = 3_000;
pub const DEFAULT_DYNAMODB_ATTEMPT_TIMEOUT_MS: u64 = 2_000;
pub const DEFAULT_DYNAMODB_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_SESSION_TTL_DAYS: u64 = 90;
/// How long the audit item of an account deletion is kept (`AUDIT_RETENTION_DAYS`).
pub const DEFAULT_AUDIT_RETENTION_DAYS: u64 = 365;
/// Rejected logins from one source IP (IPv6: one /64) in a window before it gets 429.
pub const DEFAULT_LOGIN_FAILURES_MAX: u64 = 20;
/// Rejected logins claiming one provider user from one source IP in a window before 429.
pub const DEFAULT_LOGIN_FAILURES_PER_USER_MAX: u64 = 5;
/// Missed `{"resume": token}` logins from one source IP (IPv6: one /64) in a window before its
/// resumes get 429 (docs/sessions-and-limits.md: against load, not guessing).
pub const DEFAULT_LOGIN_RESUME_MISSES_MAX: u64 = 300;
/// The failure counters' window.
pub const DEFAULT_LOGIN_FAILURE_WINDOW_SECS: u64 = 300;
pub const DEFAULT_JWKS_MIN_REFETCH_MS: u64 = 10_000;
/// Floor of `JWKS_MIN_REFETCH_MS`: below it, made-up key ids could make every Lambda instance
/// fetch a provider's keys many times a second.
pub const MIN_JWKS_MIN_REFETCH_MS: u64 = 1_000;
/// How long a JWKS whose cache time has run out may still verify tokens while the provider
/// cannot be reached; after that, its logins are refused as the provider being unavailable.
pub const DEFAULT_JWKS_MAX_STALE_SECS: u64 = 86_400;
/// Upper bound of `JWKS_MAX_STALE_SECS` (30 days).
pub const MAX_JWKS_MAX_STALE_SECS: u64 = 30 * 86_400;
/// Syncano user ids an execution environment reserves at once (`USER_ID_BLOCK`, issue 30): the
/// instance's counter item takes one write per this many sign-ups of an environment, and a
/// recycled environment leaves at most this many less one unused (docs/key-design.md).
pub const DEFAULT_USER_ID_BLOCK: u64 = 100;
/// Largest `USER_ID_BLOCK`: the ids a recycled environment may leave unused stay few.
pub const MAX_USER_ID_BLOCK: u64 = 10_000;
/// How long an execution environment keeps a positive API key check (a client key and its
/// permissions) and an instance's settings: how long a revoked client key may still work in an
/// environment that checked it, and a changed sign-up policy take to be seen (docs/security.md,
/// "API key cache"). With 1,000 environments alive, 30 s reads the instance's partition about 33
/// times a second whatever the traffic.
pub const DEFAULT_API_KEY_CACHE_SECS: u64 = 30;
/// Upper bound of `API_KEY_CACHE_SECS`: a revoked key must not work for longer.
pub const MAX_API_KEY_CACHE_SECS: u64 = 300;
/// How long an environment keeps a negative answer (unknown key, unknown instance): how long a
/// new key may still be refused where it was tried before it existed. At most
/// `API_KEY_CACHE_SECS`.
pub const DEFAULT_API_KEY_NEGATIVE_CACHE_SECS: u64 = 5;

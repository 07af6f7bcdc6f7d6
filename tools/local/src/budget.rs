//! The round-trip budget of a login (issue: "cold start, memory and round trips"), in one place
//! for the benchmark, which prints it, and the test that fails when a change exceeds it.

/// DynamoDB requests of a returning user's login: a Rocket.Chat login's identity lookup, then its
/// session's entry in the user's list and the session, two single-item puts (issue 33: no
/// transaction).
pub const RETURNING_DYNAMODB_MAX: usize = 3;
/// Provider HTTP round trips of a returning user's login (0 for an ID token whose signing key is
/// cached).
pub const RETURNING_PROVIDER_MAX: u64 = 1;
/// DynamoDB requests of a first login (the user is created): 5 since the sign-up policy is read
/// from the instance item (one consistent `GetItem`) before the user id counter, which has an
/// item of its own, moves: login functions may not write the instance's partition
/// (docs/security.md, "Least privilege in the table").
/// That is the first login that finds its execution environment's block of user ids used up
/// (the environment's first sign-up, then one in `USER_ID_BLOCK`): it reserves the next block
/// with one `ADD` on the counter item.
///
/// Issue 33 (no transaction): the user is written in single-item conditional writes, 6 where
/// there was one transaction: the identity (it decides), the username, then the user item, its
/// user-key lookup and its subject entry sent together, then the identity's `REMOVE pending`:
/// 4 round trips of latency for the 6. Hence 5 more requests than with the transaction.
pub const FIRST_DYNAMODB_MAX: usize = 10;
/// DynamoDB requests of a first login whose id comes from its environment's block (issue 30:
/// most of them, all but one in `USER_ID_BLOCK` per environment), with no counter write; since
/// issue 33 as many as [`CACHED_FIRST_DYNAMODB_MAX`] (a Rocket.Chat one writes its session too).
pub const FIRST_FROM_BLOCK_DYNAMODB_MAX: usize = 10;
/// DynamoDB requests of a Syncano returning login in an execution environment that keeps its API
/// key's check (issue 30, `API_KEY_CACHE_SECS`): the identity lookup only, no read of the
/// instance's partition.
pub const CACHED_RETURNING_DYNAMODB_MAX: usize = 1;
/// DynamoDB requests of a first login in an environment that keeps the API key's check and the
/// instance's settings (issue 30): one fewer than [`FIRST_DYNAMODB_MAX`], the instance item's
/// read, which a cold Rocket.Chat environment still makes once per cache period.
/// Issue 33: the identity lookup, the 6 writes of the user and the session's 2 puts (9); 10 with
/// the read of the instance's settings.
pub const CACHED_FIRST_DYNAMODB_MAX: usize = 10;

/// Reads an execution environment's first request makes and its later requests skip while their
/// caches hold (issue 30): the API key's check and the instance's settings, at most one each. The
/// benchmark's returning rows average the cold invoke with the warm ones, so their budget is
/// [`RETURNING_DYNAMODB_MAX`] plus these spread over the invokes.
pub const COLD_CACHE_READS: usize = 2;
/// What a Rocket.Chat login writes on top of a Syncano one: its session's entry in the user's
/// list and the session (two single-item puts, issue 33). A Rocket.Chat first login in a cold
/// execution environment (the benchmark's) makes [`FIRST_DYNAMODB_MAX`] plus these.
pub const SESSION_WRITES: usize = 2;

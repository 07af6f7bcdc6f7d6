//! The round-trip budget of a login (issue: "cold start, memory and round trips"), in one place
//! for the benchmark, which prints it, and the test that fails when a change exceeds it.

/// DynamoDB requests of a returning user's login.
pub const RETURNING_DYNAMODB_MAX: usize = 2;
/// Provider HTTP round trips of a returning user's login (0 for an ID token whose signing key is
/// cached).
pub const RETURNING_PROVIDER_MAX: u64 = 1;
/// DynamoDB requests of a first login (the user is created): 5 since the sign-up policy is read
/// from the instance item (one consistent `GetItem`) before the user id counter, which has an
/// item of its own, moves: login functions may not write the instance's partition
/// (docs/security.md, "Least privilege in the table").
pub const FIRST_DYNAMODB_MAX: usize = 5;

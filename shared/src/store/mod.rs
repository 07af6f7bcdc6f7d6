//! The user store: one DynamoDB table, keys `pk` (S) and `sk` (S), TTL on `expires_at`.
//!
//! | item                     | pk                                   | sk                 |
//! |--------------------------|--------------------------------------|--------------------|
//! | instance (sign-up policy) | `INST#{instance}`                   | `INSTANCE`         |
//! | user id counter (blocks: [`user_ids`]) | `USERIDS#{instance}`    | `USERIDS`          |
//! | API key (hash only)      | `INST#{instance}`                    | `APIKEY#{sha256}`  |
//! | identity → user snapshot | `IDENT#{instance}#{provider}#{sub}`  | `IDENT`            |
//! | user                     | `USER#{instance}#{user id}`          | `USER`             |
//! | username reservation     | `UNAME#{instance}#{username}`        | `UNAME`            |
//! | Rocket.Chat session      | `SESSION#{sha256(authToken)}`        | `SESSION`          |
//! | a user's session list    | `USESS#{instance}#{user id}`         | `SESSION#{sha256}` |
//! | Syncano user key → user  | `UKEY#{instance}#{sha256(user_key)}` | `UKEY`             |
//! | authoritative email → user | `EMAIL#{instance}#{ASCII-folded email}` | `EMAIL`        |
//! | rejected logins of an IP | `FAIL#{ip}#{window index}`           | `FAIL`             |
//! | account deletion audit   | `AUDIT#{instance}#{user id mod 32}`  | `DELETED#{user id}#{micros}` |
//! | pending provider revocation | `REVOKE#{shard}` (0–31)           | `{provider}#{instance}#{sub}` |
//! | Facebook deletion status | `FBDEL#{confirmation code}`          | `FBDEL`            |
//! | Facebook deletion request | `FBREQ#{sha256(signature)}`         | `FBREQ`            |
//! | Facebook deauthorize request | `FBDEAUTH#{sha256(signature)}`   | `FBDEAUTH`         |
//! | Apple notification received | `APPLENOTE#{sha256(jti)}`         | `APPLENOTE`        |
//! | instances of a provider subject | `SUBJECT#{provider}#{sub}`     | `INST#{instance}`  |
//! | an instance's own provider apps | `INSTCONF#{instance}`          | `PROVIDERS`        |
//! | the sweeper's cursor ([`sweep`]) | `SWEEPER`                     | `CURSOR`           |
//!
//! An Apple identity signed in with an authorization code also holds Apple's refresh token,
//! sealed (`refresh_token`, `refresh_token_client`: [`crate::domain::sealing`]), never in plain text.
//! An Apple identity item also records Hide My Email's state (`email_forwarding`,
//! `email_forwarding_at`) once Apple has notified a change.
//!
//! An identity item records when it was made (`linked_at`, microseconds: by a first login or a
//! link); items made before it read the snapshot's `created_at`, the user's creation
//! ([`UserStore::identity_since`]).
//!
//! Email items exist only in instances that enable account linking, and only for an email the
//! provider vouched for as verified.
//!
//! A first login writes identity, username, user, user-key lookup and subject entry in
//! single-item conditional writes (issue 33: no transaction), the identity's
//! `attribute_not_exists(pk)` first: two simultaneous first logins of one person make one user,
//! and the loser reads the winner's; whoever finds the identity still `pending` finishes the rest
//! ([`first_login`]). The identity item carries a snapshot of the user so that a returning login
//! is one read ([`users`]). Sessions, key resets and instances are single-item writes too; an
//! unfinished change is finished by the next request that finds it or by the sweeper
//! ([`UserStore::finish_pending`]).
//!
//! One module per concern: [`keys`] (the layout above), [`items`] (encoding and the generic
//! requests), [`error`] (failure classes), then one per kind of thing stored, and [`deletion`]
//! (a user's deletion: tombstone, sessions, tombstone removal).

mod callback_records;
mod deletion;
mod email_forwarding;
mod error;
mod facebook_deletions;
mod failures;
mod faults;
mod first_login;
mod instance_apps;
mod instances;
mod items;
mod keys;
mod linking;
mod pending;
mod revocations;
mod sessions;
mod subjects;
pub mod sweep;
mod user_ids;
mod user_keys;
mod users;

use aws_sdk_dynamodb::Client;

pub use crate::domain::records::{
    ApiKeyCheck, ApiKeyInfo, ApiKeyPermissions, DeletionReason, InstanceAccess, Session, SignUpPolicy, UserRecord,
};
pub use callback_records::{CallbackClaim, CallbackRecord};
pub use deletion::{Step1, TombstoneStep, Tombstoned};
pub use error::StoreError;
pub use facebook_deletions::{Claim, DeletionCounts, FacebookDeletion};
pub use faults::{WriteFault, WriteFaults};
pub use instance_apps::InstanceAppsError;
pub use instance_apps::{InstanceOidc, InstanceOidcError, OidcReadRules, MAX_INSTANCE_OIDC_PROVIDERS};
pub use linking::{LinkOutcome, Linking, PendingLink, Unlinked};
pub(crate) use pending::user_of_pk;
pub use pending::Finished;
pub use revocations::{PendingRevocation, RevocationPlan};
use user_ids::UserIdBlocks;
pub use user_ids::JS_SAFE_LIMIT;
pub use user_keys::user_key_of;

/// The DynamoDB adapter: every read and write of the table goes through it.
#[derive(Clone)]
pub struct UserStore {
    client: Client,
    table: String,
    /// This execution environment's blocks of user ids (shared by the store's clones).
    user_ids: std::sync::Arc<UserIdBlocks>,
    /// The crash tests' fault hook (off unless a test arms it: [`faults`]).
    faults: std::sync::Arc<WriteFaults>,
}

impl UserStore {
    /// A store whose environment reserves [`crate::config::DEFAULT_USER_ID_BLOCK`] user ids at once.
    pub fn new(client: Client, table: impl Into<String>) -> UserStore {
        UserStore {
            client,
            table: table.into(),
            user_ids: std::sync::Arc::new(UserIdBlocks::new(crate::config::DEFAULT_USER_ID_BLOCK)),
            faults: std::sync::Arc::default(),
        }
    }

    /// This store with blocks of `size` user ids (`USER_ID_BLOCK`), none reserved yet.
    pub fn with_user_id_block(self, size: u64) -> UserStore {
        UserStore { user_ids: std::sync::Arc::new(UserIdBlocks::new(size)), ..self }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The DynamoDB client (the local stack signs its requests as the function running).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The fault hook of the crash tests (shared by the store's clones; off unless armed).
    pub fn write_faults(&self) -> &WriteFaults {
        &self.faults
    }

    /// Before each write of a multi-step change: the crash tests' hook.
    pub(super) async fn write_gate(&self) -> Result<(), StoreError> {
        self.faults.gate().await
    }
}

//! The domain records the store keeps and the rest of the code works with: users, sessions and
//! what an instance's API key may do. Plain data: how they are laid out in DynamoDB is
//! [`crate::store`]'s business.

use crate::domain::instance::InstanceName;
use crate::domain::tokens::KeyMaterial;

/// What an instance API key may do: Syncano's flags. A key stored without them (before the flags
/// existed) reads as a client key: it may create users, nothing more (fail closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyPermissions {
    /// Instance admin: bypasses per-user permissions (resets any user's key).
    pub ignore_acl: bool,
    /// May create users (a first social login).
    pub allow_user_create: bool,
}

impl ApiKeyPermissions {
    /// What an app ships: it logs users in and creates them on their first login.
    pub const CLIENT: ApiKeyPermissions = ApiKeyPermissions { ignore_acl: false, allow_user_create: true };
    /// The operator's key: everything.
    pub const ADMIN: ApiKeyPermissions = ApiKeyPermissions { ignore_acl: true, allow_user_create: true };

    /// May this key create a user? An admin key may do anything.
    pub fn may_create_users(&self) -> bool {
        self.allow_user_create || self.ignore_acl
    }
}

/// Outcome of checking an instance's API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyCheck {
    Valid(ApiKeyPermissions),
    UnknownInstance,
    InvalidKey,
}

/// Whether an instance takes new users on their first social login, through either dialect
/// (Rocket.Chat's `Accounts_Registration_AuthenticationServices_Enabled`). Stored on the instance
/// item as `sign_up`; an item without it (written before the policy existed) or with any other
/// value is closed: docs/security.md, "Sign-up policy".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUpPolicy {
    /// A first login creates its user (if the Syncano API key may create users, too).
    Open,
    /// Only users the instance already has sign in.
    Closed,
}

impl SignUpPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            SignUpPolicy::Open => "open",
            SignUpPolicy::Closed => "closed",
        }
    }

    /// `open` or `closed`, as stored and as the admin tool takes it.
    pub fn parse(text: &str) -> Option<SignUpPolicy> {
        match text {
            "open" => Some(SignUpPolicy::Open),
            "closed" => Some(SignUpPolicy::Closed),
            _ => None,
        }
    }

    /// The policy an instance item's `sign_up` attribute says: only `open` opens (fail closed).
    pub fn from_stored(value: Option<&str>) -> SignUpPolicy {
        match value {
            Some("open") => SignUpPolicy::Open,
            _ => SignUpPolicy::Closed,
        }
    }

    pub fn is_open(self) -> bool {
        self == SignUpPolicy::Open
    }
}

/// What the one read of a Syncano request's API key check learns: the key's standing, and the
/// instance's sign-up policy (from the instance item the same read fetches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceAccess {
    pub check: ApiKeyCheck,
    pub sign_up: SignUpPolicy,
    /// The instance links a new identity to the user of the same verified email: a closed
    /// instance still takes such an identity (no new user), so the store decides.
    pub links_by_email: bool,
}

/// What an instance item says of new users: its sign-up policy and whether it links accounts by
/// verified email. What a first login needs of the instance, read with the API key check or on
/// its own, and kept by each execution environment as long as a positive API key check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceSettings {
    pub sign_up: SignUpPolicy,
    pub links_by_email: bool,
}

impl InstanceAccess {
    /// The settings of the instance this check read (meaningless for an unknown instance).
    pub fn settings(&self) -> InstanceSettings {
        InstanceSettings { sign_up: self.sign_up, links_by_email: self.links_by_email }
    }
}

/// A user as the login responses need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub instance: InstanceName,
    /// Syncano's integer id, allocated per instance by an atomic counter.
    pub user_id: u64,
    /// Rocket.Chat's 17-character id.
    pub rc_id: String,
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub avatar_url: Option<String>,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
    pub revision: u64,
    /// Generation of the Syncano user key (bumped by a key reset).
    pub key_generation: u64,
    /// The user's random key salt (new at each reset); `None` for users made before salts.
    pub key_salt: Option<String>,
    /// The `TOKEN_SECRET` version the user's key is derived with.
    pub key_version: u32,
}

impl UserRecord {
    /// What the user's Syncano key is derived from.
    pub fn key_material(&self) -> KeyMaterial {
        KeyMaterial { generation: self.key_generation, salt: self.key_salt.clone(), version: self.key_version }
    }
}

/// A live Rocket.Chat session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub instance: InstanceName,
    pub user_id: u64,
    pub rc_id: String,
    /// Epoch seconds.
    pub expires_at: i64,
    /// SHA-256 (hex) of the session's token: how the session is stored, never the token.
    pub token_hash: String,
}

/// An API key as `admin list-keys` shows it: its public id, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub key_id: String,
    pub created_at: i64,
    pub permissions: ApiKeyPermissions,
}

/// Why an account was deleted, as its audit item records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionReason {
    /// The user deleted itself (Rocket.Chat `users.deleteOwnAccount`, Syncano `DELETE user/`).
    User,
    /// An instance admin (Syncano `DELETE users/{id}/` with an `ignore_acl` key).
    Admin,
    /// Apple told us the person deleted their Apple account or stopped using it with our app
    /// (a server-to-server notification), and this was the user's only identity.
    Apple,
    /// Facebook's data deletion callback for the person, whose only identity this was.
    Facebook,
}

impl DeletionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionReason::User => "user",
            DeletionReason::Admin => "admin",
            DeletionReason::Apple => "apple",
            DeletionReason::Facebook => "facebook",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SignUpPolicy;

    #[test]
    fn only_a_stored_open_opens_sign_up() {
        assert_eq!(SignUpPolicy::from_stored(Some("open")), SignUpPolicy::Open);
        for closed in [None, Some("closed"), Some(""), Some("OPEN"), Some("true")] {
            assert_eq!(SignUpPolicy::from_stored(closed), SignUpPolicy::Closed, "{closed:?}");
        }
        for p in [SignUpPolicy::Open, SignUpPolicy::Closed] {
            assert_eq!(SignUpPolicy::parse(p.as_str()), Some(p));
        }
        assert_eq!(SignUpPolicy::parse("invite"), None);
    }
}

//! The login itself, dialect-free: verify the token with the provider, find or create the user,
//! then the credential each dialect answers with (a new session, the user's key). Every failure
//! of this layer is one [`LoginError`]; each dialect maps it once to a status and an error body
//! (`dialect::syncano` wraps it in its own error with the failures only its API has).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::app::App;
use crate::clock;
use crate::identity::Provider;
use crate::instance::InstanceName;
use crate::metrics::Outcome;
use crate::providers::{Credentials, ProviderError, Verified};
use crate::records::{ApiKeyPermissions, InstanceAccess, UserRecord};
use crate::secret::Secret;
use crate::store::StoreError;
use crate::tokens;

/// A signed-in user and the credential the dialect answers with: a new Rocket.Chat session's
/// token, or the user's Syncano user key.
#[derive(Debug)]
pub struct SignedIn {
    pub user: UserRecord,
    pub credential: Secret,
    /// This login created the user.
    pub first_login: bool,
}

impl SignedIn {
    /// The login's outcome, for its metrics.
    pub fn outcome(&self) -> Outcome {
        Outcome::Success { first_login: self.first_login }
    }
}

/// The user a provider's identity signed in to an instance, and whether this login created it.
#[derive(Debug)]
pub struct SignedInUser {
    pub user: UserRecord,
    pub first_login: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Malformed input; the message names the field and is safe to show the client.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A provider this deployment does not serve (the name is sanitised for display).
    #[error("unsupported service {0:?}")]
    UnsupportedService(String),
    #[error("unknown instance")]
    UnknownInstance,
    /// The provider refused the token; the reason is for logs only.
    #[error("token rejected: {0}")]
    TokenRejected(String),
    #[error("provider unavailable: {0}")]
    ProviderUnavailable(String),
    #[error("provider timed out")]
    ProviderTimeout,
    #[error("user store unavailable: {0}")]
    StoreUnavailable(String),
    /// No, a wrong, an expired or a revoked credential of a signed-in user (a Rocket.Chat
    /// session, a Syncano user key).
    #[error("not logged in")]
    NotLoggedIn,
    /// A first login by a caller that may not create users (a Syncano API key without
    /// `allow_user_create`).
    #[error("the API key may not create users")]
    UserCreateDenied,
    /// A first login in an instance whose sign-up policy is closed: only its users sign in.
    #[error("the instance's sign-up is closed")]
    SignUpClosed,
    /// An account deletion whose confirmation does not match (Rocket.Chat: the SHA-256 of the
    /// username, for a user without a password).
    #[error("the deletion is not confirmed")]
    DeletionNotConfirmed,
    /// Too many rejected logins from this IP: retry after that many seconds.
    #[error("too many rejected logins; retry after {0} s")]
    TooManyFailures(i64),
    /// Our own bug or misconfiguration; the text is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ProviderError> for LoginError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::NotServed => LoginError::UnsupportedService("provider not configured".into()),
            ProviderError::MissingCredential(field) => {
                LoginError::BadRequest(format!("{field} is required for this provider."))
            }
            ProviderError::Rejected(why) => LoginError::TokenRejected(why),
            ProviderError::Timeout => LoginError::ProviderTimeout,
            ProviderError::Unavailable(why) => LoginError::ProviderUnavailable(why),
            ProviderError::BadResponse(why) => LoginError::ProviderUnavailable(why),
        }
    }
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InstanceNotFound => LoginError::UnknownInstance,
            StoreError::SignUpClosed { .. } => LoginError::SignUpClosed,
            StoreError::Unavailable(_) | StoreError::Contention => LoginError::StoreUnavailable(e.to_string()),
            StoreError::InstanceExists
            | StoreError::Dynamo(_)
            | StoreError::Corrupt(_)
            | StoreError::RetiredKeyVersion(_) => LoginError::Internal(e.to_string()),
        }
    }
}

/// Whether a first login may create its user, as far as the caller knows before the provider is
/// asked. Whatever it says, the store creates no user in an instance whose sign-up policy is
/// closed ([`crate::store::UserStore::create_user`]): that check is the one both dialects share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    /// A Syncano key that may create users, in an instance the same request read as open (or
    /// one that links by verified email): up to the store.
    Allowed,
    /// The Rocket.Chat route, which reads no instance item: up to the store, unless this Lambda
    /// instance just saw the instance refuse a sign-up ([`ClosedSignUps`]).
    PolicyUnread,
    /// The Syncano API key may not create users (no `allow_user_create`).
    KeyDenied,
    /// The instance's policy, read with the Syncano API key, is closed.
    SignUpClosed,
}

impl Creation {
    /// What a Syncano login may do: its key's flags and its instance's policy, from one read.
    /// A closed instance that links by verified email is left to the store, which still joins a
    /// new identity to a user the instance has.
    pub fn for_syncano(permissions: ApiKeyPermissions, access: &InstanceAccess) -> Creation {
        if !access.sign_up.is_open() && !access.links_by_email {
            Creation::SignUpClosed
        } else if !permissions.may_create_users() {
            Creation::KeyDenied
        } else {
            Creation::Allowed
        }
    }
}

/// How long a Lambda instance remembers that an instance refused a sign-up.
pub const CLOSED_SIGN_UP_MEMORY_SECS: i64 = 60;

/// The instances this Lambda instance saw refuse a sign-up (their id allocation failed on the
/// policy, and they link no identity by email), each for [`CLOSED_SIGN_UP_MEMORY_SECS`]: a
/// stranger retrying through the Rocket.Chat route, which reads no instance item, is refused
/// without another write attempt on the instance item. It only ever refuses what the store just
/// refused; an instance opened again takes new users through that route at most this long later
/// in this Lambda instance (the Syncano route reads the policy in every request).
#[derive(Debug, Default)]
pub struct ClosedSignUps(Mutex<HashMap<InstanceName, i64>>);

impl ClosedSignUps {
    pub fn remembers(&self, instance: &InstanceName) -> bool {
        let now = clock::now_secs();
        let mut closed = self.0.lock().unwrap_or_else(|e| e.into_inner());
        closed.retain(|_, until| *until > now);
        closed.contains_key(instance)
    }

    pub fn remember(&self, instance: &InstanceName) {
        let until = clock::now_secs().saturating_add(CLOSED_SIGN_UP_MEMORY_SECS);
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(instance.clone(), until);
    }
}

impl App {
    /// Asks the provider whether the credentials are valid and issued for our app. A provider
    /// this deployment does not serve is refused before anything else happens.
    pub async fn verify(&self, provider: Provider, creds: &Credentials) -> Result<Verified, LoginError> {
        Ok(self.providers.verify(provider, creds).await?)
    }

    /// Verifies `creds` with `provider`, then finds or creates their user in `instance`.
    pub async fn sign_in(
        &self,
        instance: &InstanceName,
        provider: Provider,
        creds: &Credentials,
        may_create: Creation,
    ) -> Result<SignedInUser, LoginError> {
        let verified = self.verify(provider, creds).await?;
        let code = creds.authorization_code.as_ref();
        let exchanged = self.exchange_apple_code(&verified.identity, creds.id_token.as_ref(), code).await?;
        let subject = verified.identity.subject.clone();
        let user = self.find_or_create_user(instance, verified, creds, may_create).await?;
        if let Some((client_id, refresh_token)) = exchanged {
            self.keep_refresh_token(instance, &subject, &client_id, &refresh_token).await;
        }
        Ok(user)
    }

    /// The user of a verified identity in `instance`; on its first login the provider is asked
    /// for what only a new user needs, and the user is created if the caller `may_create` users
    /// and the instance's sign-up policy is open (the store checks that as it allocates the id).
    async fn find_or_create_user(
        &self,
        instance: &InstanceName,
        verified: Verified,
        creds: &Credentials,
        may_create: Creation,
    ) -> Result<SignedInUser, LoginError> {
        let id = &verified.identity;
        // Under the limiter, the attempt's failure counters are read in the same request, and a
        // counter another execution environment pushed over its limit refuses the login here,
        // before anything is written (crate::throttle).
        let found = match self.counters_of_this_attempt() {
            Some((window, counters)) => {
                let names: Vec<&str> = counters.iter().map(|(k, _)| k.as_str()).collect();
                let (user, counts) = self
                    .store
                    .find_by_identity_counting(instance, id.provider.as_str(), &id.subject, window, &names)
                    .await?;
                self.check_counters(&counters, &counts)?;
                user
            }
            None => self.store.find_by_identity(instance, id.provider.as_str(), &id.subject, false).await?,
        };
        if let Some(user) = found {
            return Ok(SignedInUser { user, first_login: false });
        }
        match may_create {
            Creation::Allowed => {}
            Creation::PolicyUnread if self.closed_sign_ups.remembers(instance) => return Err(LoginError::SignUpClosed),
            Creation::PolicyUnread => {}
            Creation::KeyDenied => return Err(LoginError::UserCreateDenied),
            Creation::SignUpClosed => return Err(LoginError::SignUpClosed),
        }
        let mut identity = self.providers.first_login(verified, creds).await?;
        // The name is shown to other people: no bidi or invisible characters, NFKC.
        identity.name = identity.name.as_deref().and_then(crate::display_name::clean);
        let user = match self.store.create_user(instance, &identity, &self.user_keys).await {
            Err(StoreError::SignUpClosed { links_by_email }) => {
                if !links_by_email {
                    self.closed_sign_ups.remember(instance);
                }
                return Err(LoginError::SignUpClosed);
            }
            created => created?,
        };
        Ok(SignedInUser { user, first_login: true })
    }

    /// A new session for the user `signed_in`, valid `SESSION_TTL_DAYS`.
    pub async fn new_session(&self, signed_in: SignedInUser) -> Result<SignedIn, LoginError> {
        let SignedInUser { user, first_login } = signed_in;
        let credential = tokens::new_session_token();
        let ttl = i64::try_from(self.config.session_ttl.as_secs()).unwrap_or(i64::MAX);
        self.store.put_session(&credential, &user, clock::now_secs().saturating_add(ttl)).await?;
        Ok(SignedIn { user, credential, first_login })
    }

    /// `user` with its current user key (derived, never stored).
    pub fn with_user_key(&self, user: UserRecord) -> Result<SignedIn, LoginError> {
        let credential = crate::store::user_key_of(&self.user_keys, &user)?;
        Ok(SignedIn { user, credential, first_login: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{ApiKeyCheck, SignUpPolicy};

    fn access(sign_up: SignUpPolicy, links_by_email: bool) -> InstanceAccess {
        InstanceAccess { check: ApiKeyCheck::Valid(ApiKeyPermissions::CLIENT), sign_up, links_by_email }
    }

    #[test]
    fn a_syncano_first_login_needs_an_open_instance_and_a_key_that_may_create() {
        let no_create = ApiKeyPermissions { ignore_acl: false, allow_user_create: false };
        let open = access(SignUpPolicy::Open, false);
        let closed = access(SignUpPolicy::Closed, false);
        assert_eq!(Creation::for_syncano(ApiKeyPermissions::CLIENT, &open), Creation::Allowed);
        assert_eq!(Creation::for_syncano(no_create, &open), Creation::KeyDenied);
        assert_eq!(Creation::for_syncano(ApiKeyPermissions::ADMIN, &closed), Creation::SignUpClosed);
        assert_eq!(Creation::for_syncano(ApiKeyPermissions::CLIENT, &closed), Creation::SignUpClosed);
        // Linking may still join a user the instance has: the store decides.
        let linking = access(SignUpPolicy::Closed, true);
        assert_eq!(Creation::for_syncano(ApiKeyPermissions::CLIENT, &linking), Creation::Allowed);
        assert_eq!(Creation::for_syncano(no_create, &linking), Creation::KeyDenied);
    }

    #[test]
    fn a_refused_sign_up_is_remembered_for_its_instance_only() {
        let closed = ClosedSignUps::default();
        let (a, b) = (InstanceName::parse("a").expect("valid"), InstanceName::parse("b").expect("valid"));
        assert!(!closed.remembers(&a));
        closed.remember(&a);
        assert!(closed.remembers(&a) && !closed.remembers(&b));
    }
}

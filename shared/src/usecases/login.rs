//! The login itself, dialect-free: verify the token with the provider, find or create the user,
//! then the credential each dialect answers with (a new session, the user's key). Every failure
//! of this layer is one [`UseCaseError`]; each dialect maps it once to a status and an error body
//! (`dialect::syncano` wraps it in its own error with the failures only its API has).

use crate::domain::clock;
use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::records::{ApiKeyPermissions, InstanceAccess, UserRecord};
use crate::domain::secret::Secret;
use crate::domain::tokens;
use crate::providers::{Credentials, Providers, Verified};
use crate::store::InstanceAppsError;
use crate::store::StoreError;
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;
use crate::usecases::instance_providers::{OwnApps, ServingProviders};
use crate::usecases::metrics::Outcome;

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

/// Whether a first login may create its user, as far as the caller knows before the provider is
/// asked. Whatever it says, the store creates no user in an instance whose sign-up policy is
/// closed ([`crate::store::UserStore::create_user`]): that check is the one both dialects share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    /// A Syncano key that may create users, in an instance the same request read as open (or
    /// one that links by verified email): up to the store.
    Allowed,
    /// The Rocket.Chat route, whose request read no instance item: the instance's settings as
    /// this environment keeps them decide ([`App::instance_settings`]).
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

impl App {
    /// Whether `provider` is served in `instance`: by the deployment's app, or else by the
    /// instance's own (read only when the deployment has none there). Microsoft is always
    /// asked of the instance's verifiers: an instance whose own Microsoft entry is refused when
    /// read is not served Microsoft at all, not by the deployment's app (its login reads the
    /// same cached verifiers next: no extra read).
    pub async fn serves(&self, instance: &InstanceName, provider: Provider) -> Result<bool, UseCaseError> {
        let by_deployment = self.config.serves(provider) && provider != Provider::Microsoft;
        Ok(by_deployment || self.providers_for(instance).await?.serves(provider))
    }

    /// Asks the provider whether the credentials are valid and issued for `instance`'s app (its
    /// own there, else the deployment's: [`App::providers_for`]). A provider not served is
    /// refused before anything else happens.
    pub async fn verify(
        &self,
        instance: &InstanceName,
        provider: Provider,
        creds: &Credentials,
    ) -> Result<Verified, UseCaseError> {
        Ok(self.providers_for(instance).await?.verify(provider, creds).await?)
    }

    /// Verifies `creds` with `provider`, then finds or creates their user in `instance`.
    pub async fn sign_in(
        &self,
        instance: &InstanceName,
        provider: Provider,
        creds: &Credentials,
        may_create: Creation,
    ) -> Result<SignedInUser, UseCaseError> {
        let providers = self.providers_for(instance).await?;
        let verified = providers.verify(provider, creds).await?;
        let code = creds.authorization_code.as_ref();
        let exchanged = self.exchange_apple_code(&providers, &verified.identity, creds.id_token.as_ref(), code).await?;
        let subject = verified.identity.subject.clone();
        let user = self.find_or_create_user(instance, &providers, verified, creds, may_create).await?;
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
        providers: &Providers,
        verified: Verified,
        creds: &Credentials,
        may_create: Creation,
    ) -> Result<SignedInUser, UseCaseError> {
        let id = &verified.identity;
        // Under the limiter, the attempt's failure counters are read in the same request, and a
        // counter another execution environment pushed over its limit refuses the login here,
        // before anything is written (crate::usecases::limiter).
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
            Creation::Allowed | Creation::PolicyUnread => {}
            Creation::KeyDenied => return Err(UseCaseError::UserCreateDenied),
            Creation::SignUpClosed => return Err(UseCaseError::SignUpClosed),
        }
        // The instance's settings as this environment keeps them (the Syncano route's key check
        // just read them; the Rocket.Chat route reads them once per cache period): a closed
        // instance that links no identity by email refuses before the provider is asked again.
        let settings = self.instance_settings(instance).await?;
        if !settings.sign_up.is_open() && !settings.links_by_email {
            return Err(UseCaseError::SignUpClosed);
        }
        let mut identity = providers.first_login(verified, creds).await?;
        // The name is shown to other people: no bidi or invisible characters, NFKC.
        identity.name = identity.name.as_deref().and_then(crate::domain::display_name::clean);
        let user = match self.store.create_user(instance, &identity, &self.user_keys, settings).await {
            Err(StoreError::SignUpClosed { .. }) => return Err(UseCaseError::SignUpClosed),
            created => created?,
        };
        Ok(SignedInUser { user, first_login: true })
    }

    /// A new session for the user `signed_in`, valid `SESSION_TTL_DAYS`.
    pub async fn new_session(&self, signed_in: SignedInUser) -> Result<SignedIn, UseCaseError> {
        let SignedInUser { user, first_login } = signed_in;
        let credential = tokens::new_session_token();
        let ttl = i64::try_from(self.config.session_ttl.as_secs()).unwrap_or(i64::MAX);
        self.store.put_session(&credential, &user, clock::now_secs().saturating_add(ttl)).await?;
        Ok(SignedIn { user, credential, first_login })
    }

    /// `user` with its current user key (derived, never stored).
    pub fn with_user_key(&self, user: UserRecord) -> Result<SignedIn, UseCaseError> {
        let credential = crate::store::user_key_of(&self.user_keys, &user)?;
        Ok(SignedIn { user, credential, first_login: false })
    }
}

impl App {
    /// The verifiers of `instance`'s logins: its own apps at the providers it has them, the
    /// deployment's at the others (a provider neither has an app at is not served). A secret
    /// that does not open (no or another `INSTANCE_SECRETS_KEY`) refuses the instance's logins
    /// as an internal error: never the deployment's app in its place (fail closed).
    pub async fn providers_for(&self, instance: &InstanceName) -> Result<ServingProviders<'_>, UseCaseError> {
        let serving = |own: Option<std::sync::Arc<OwnApps>>| match own {
            Some(p) => ServingProviders::Instance(p),
            None => ServingProviders::Deployment(&self.providers),
        };
        if let Some(kept) = self.instance_providers.get(instance) {
            return Ok(serving(kept));
        }
        let rules = crate::store::OidcReadRules {
            policy: self.config.url_policy,
            microsoft_authority: &self.config.provider_urls.microsoft_authority,
        };
        let keys = self.config.instance_secrets_key.as_ref();
        let (apps, oidc) = match self.store.instance_providers(instance, keys, rules).await {
            Ok(found) => found,
            Err(InstanceAppsError::Store(e)) => return Err(e.into()),
            Err(e @ InstanceAppsError::Sealed { .. }) => {
                tracing::error!(error = %e, "an instance's own provider app cannot be used");
                return Err(UseCaseError::Internal("an instance's own provider app cannot be used".into()));
            }
        };
        let own = (!apps.is_empty() || !oidc.is_empty()).then(|| {
            let mut config = self.config.for_instance(&apps);
            // The instance's own Microsoft app in place of the deployment's, as for the others;
            // a stored one that fails its checks: none (fail closed, never the deployment's).
            if oidc.microsoft.is_some() || oidc.microsoft_refused {
                config.microsoft = oidc.microsoft.clone();
            }
            let mut own: Vec<Provider> = apps.apps.iter().map(|a| a.provider).collect();
            own.extend(oidc.microsoft.as_ref().map(|_| Provider::Microsoft));
            own.extend(oidc.custom.iter().map(|c| Provider::Oidc(c.name)));
            let providers = self
                .provider_clients
                .providers_with_custom(&config, oidc.custom)
                .map_err(|e| UseCaseError::Internal(e.to_string()))?;
            Ok::<_, UseCaseError>(std::sync::Arc::new(OwnApps { providers, config, own }))
        });
        let own = own.transpose()?;
        self.instance_providers.remember(instance, own.clone());
        Ok(serving(own))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::records::{ApiKeyCheck, SignUpPolicy};

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
}

//! An instance's own app at a provider (issue 31): its public ids and, where the provider has
//! one, its secret. The deployment's app (the env/SSM configuration) serves the providers an
//! instance has no app of its own at; a provider neither has an app at is not served.
//!
//! Stored in one item per instance (`INSTCONF#{instance}` / `PROVIDERS`, one attribute per
//! provider, docs/key-design.md); the secret sealed under `INSTANCE_SECRETS_KEY`, bound to
//! [`secret_aad`]. An instance's custom OpenID Connect providers and its own Microsoft app are
//! other attributes of the same item (`crate::store::InstanceOidc`: their settings are
//! `crate::config::CustomOidcConfig` / `MicrosoftConfig`, checked with their rules).

use crate::domain::identity::Provider;
use crate::domain::secret::Secret;

/// Longest public id accepted (Google client ids are about 75 characters).
pub const MAX_ID_LEN: usize = 256;
/// Most client ids of one app (Google and Apple: web, iOS, Android...).
pub const MAX_IDS: usize = 16;

/// One instance's own app at one provider.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnApp {
    pub provider: Provider,
    /// Facebook app id, X consumer key, LinkedIn/GitHub client id: one; Google/Apple client ids:
    /// one or more (a token's audience must be one of them).
    pub ids: Vec<String>,
    /// Facebook app secret, X consumer secret, GitHub client secret (required), LinkedIn client
    /// secret (optional: without it only ID tokens are accepted); Google and Apple have none.
    pub secret: Option<Secret>,
    /// Apple only: the app's own developer team key (another team's app than the deployment's),
    /// which signs the client secrets of its code exchange and revocation. `None`: the
    /// deployment's team key (`APPLE_TEAM_ID`...), the same team.
    pub team_key: Option<AppleTeamKey>,
}

/// An instance's own Apple team key: team id, key id and the `.p8` (sealed under
/// `INSTANCE_SECRETS_KEY` at rest, bound to [`secret_aad`]).
#[derive(Clone, PartialEq, Eq)]
pub enum AppleTeamKey {
    Own {
        team_id: String,
        key_id: String,
        private_key: Secret,
    },
    /// Stored but unusable (does not open, or not a P-256 PKCS#8 key): the instance's Apple code
    /// exchange and revocation fail closed, never with the deployment's key in its place.
    Refused,
}

impl std::fmt::Debug for AppleTeamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppleTeamKey::Own { team_id, key_id, .. } => {
                write!(f, "Own {{ team_id: {team_id:?}, key_id: {key_id:?}, private_key: <redacted> }}")
            }
            AppleTeamKey::Refused => write!(f, "Refused"),
        }
    }
}

impl std::fmt::Debug for OwnApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnApp")
            .field("provider", &self.provider)
            .field("ids", &self.ids)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("team_key", &self.team_key)
            .finish()
    }
}

/// Why an app's settings are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnAppError {
    #[error("ids are 1-256 visible ASCII characters without ',' (at most 16; one for this provider)")]
    BadIds,
    #[error("an instance cannot have an app of its own at this provider")]
    NotAnAppProvider,
    #[error("this provider needs a secret")]
    SecretRequired,
    #[error("this provider has no secret")]
    NoSecret,
    #[error("the secret is 1-1024 visible ASCII characters")]
    BadSecret,
    #[error("a team key is Apple's only: a team id and key id (1-256 visible ASCII characters) and the Sign in with Apple key, a P-256 private key in PKCS#8 PEM (the .p8)")]
    BadTeamKey,
}

/// What a provider's app has: several ids or one, a secret required, optional or none; `None`
/// for a provider an instance cannot (yet) have an app of its own at.
fn shape(provider: Provider) -> Option<(bool, Option<bool>)> {
    match provider {
        Provider::Google | Provider::Apple => Some((true, None)),
        Provider::Facebook | Provider::Twitter | Provider::GitHub => Some((false, Some(true))),
        Provider::LinkedIn => Some((false, Some(false))),
        Provider::Microsoft | Provider::Oidc(_) => None,
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic() && b != b',')
}

impl OwnApp {
    /// A checked app: ids and secret as `provider` has them.
    pub fn new(provider: Provider, ids: Vec<String>, secret: Option<Secret>) -> Result<OwnApp, OwnAppError> {
        let (many, needs_secret) = shape(provider).ok_or(OwnAppError::NotAnAppProvider)?;
        let count_ok = !ids.is_empty() && if many { ids.len() <= MAX_IDS } else { ids.len() == 1 };
        if !count_ok || !ids.iter().all(|i| valid_id(i)) {
            return Err(OwnAppError::BadIds);
        }
        match (&secret, needs_secret) {
            (None, Some(true)) => return Err(OwnAppError::SecretRequired),
            (Some(_), None) => return Err(OwnAppError::NoSecret),
            (Some(s), _)
                if s.expose().is_empty()
                    || s.expose().len() > 1024
                    || !s.expose().bytes().all(|b| b.is_ascii_graphic()) =>
            {
                return Err(OwnAppError::BadSecret)
            }
            _ => {}
        }
        Ok(OwnApp { provider, ids, secret, team_key: None })
    }

    /// This Apple app with its own team key, checked as the deployment's is at cold start
    /// (ES256, P-256, PKCS#8 PEM; literal `\n`s taken as newlines).
    pub fn with_team_key(self, team_id: &str, key_id: &str, pem: &Secret) -> Result<OwnApp, OwnAppError> {
        let pem = pem.expose().trim().replace("\\n", "\n");
        let ok = self.provider == Provider::Apple
            && valid_id(team_id)
            && valid_id(key_id)
            && crate::domain::apple_key::signing_key(&pem).is_some();
        if !ok {
            return Err(OwnAppError::BadTeamKey);
        }
        let private_key = Secret::new(pem);
        let team_key =
            Some(AppleTeamKey::Own { team_id: team_id.to_string(), key_id: key_id.to_string(), private_key });
        Ok(OwnApp { team_key, ..self })
    }

    /// The first (or only) id.
    pub fn id(&self) -> &str {
        self.ids.first().map(String::as_str).unwrap_or_default()
    }

    /// Whether this provider's app has a secret to give.
    pub fn takes_secret(provider: Provider) -> bool {
        shape(provider).is_some_and(|(_, secret)| secret.is_some())
    }
}

/// The associated data a secret is sealed with: bound to its instance, provider and app id, so
/// that a sealed secret copied to another instance's item (or another app) does not open.
pub fn secret_aad(instance: &str, provider: Provider, app_id: &str) -> String {
    format!("INSTCONF#{instance}#PROVIDER#{}#{app_id}", provider.as_str())
}

/// An instance's own apps (at most one per provider); empty: the deployment's apps serve it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceApps {
    pub apps: Vec<OwnApp>,
}

impl InstanceApps {
    pub fn get(&self, provider: Provider) -> Option<&OwnApp> {
        self.apps.iter().find(|a| a.provider == provider)
    }

    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_provider_takes_the_ids_and_secret_it_has() {
        let id = |s: &str| vec![s.to_string()];
        let secret = Some(Secret::new("s3cret"));
        assert!(OwnApp::new(Provider::Facebook, id("123"), secret.clone()).is_ok());
        assert_eq!(OwnApp::new(Provider::Facebook, id("123"), None), Err(OwnAppError::SecretRequired));
        assert_eq!(OwnApp::new(Provider::Google, id("a"), secret.clone()), Err(OwnAppError::NoSecret));
        assert!(OwnApp::new(Provider::Google, vec!["a".into(), "b".into()], None).is_ok());
        assert_eq!(
            OwnApp::new(Provider::GitHub, vec!["a".into(), "b".into()], secret.clone()),
            Err(OwnAppError::BadIds)
        );
        assert!(OwnApp::new(Provider::LinkedIn, id("x"), None).is_ok());
        assert_eq!(OwnApp::new(Provider::Apple, id("a,b"), None), Err(OwnAppError::BadIds));
        assert_eq!(OwnApp::new(Provider::Apple, vec![], None), Err(OwnAppError::BadIds));
        assert_eq!(OwnApp::new(Provider::Twitter, id("k"), Some(Secret::new("a b"))), Err(OwnAppError::BadSecret));
        let shown = format!("{:?}", OwnApp::new(Provider::Twitter, id("k"), Some(Secret::new("topsecret"))));
        assert!(!shown.contains("topsecret"), "{shown}");
    }

    #[test]
    fn an_apple_team_key_is_a_p256_pkcs8_key_of_apple_apps_only() {
        let p8 = Secret::new(include_str!("../../../tools/emulator/keys/apple-other-team.p8"));
        let apple = OwnApp::new(Provider::Apple, vec!["com.example.other".into()], None).expect("app");
        let with = apple.clone().with_team_key("OTHERTEAM1", "OTHERKEY01", &p8).expect("a .p8");
        let shown = format!("{with:?}");
        assert!(shown.contains("OTHERTEAM1") && !shown.contains("PRIVATE KEY"), "{shown}");
        let rsa = Secret::new(include_str!("../../../tools/emulator/keys/key-1.pem"));
        assert_eq!(apple.clone().with_team_key("T", "K", &rsa), Err(OwnAppError::BadTeamKey), "RSA");
        assert_eq!(apple.clone().with_team_key("", "K", &p8), Err(OwnAppError::BadTeamKey));
        let google = OwnApp::new(Provider::Google, vec!["g".into()], None).expect("app");
        assert_eq!(google.with_team_key("T", "K", &p8), Err(OwnAppError::BadTeamKey), "Apple only");
    }
}

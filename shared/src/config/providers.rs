//! Each provider's settings: the types, the real endpoints they default to (tests and the local
//! stack point the `*_URL` variables at the emulator), their reading from the variables (a
//! provider fails closed: served only when its app/client id is set, and then its secret is
//! required), and the deployment's settings as one instance with its own apps sees them.

use super::secrets::{sealing_key, versioned, REFRESH_TOKEN_KEY_NAMES};
use super::vars::{is_graph_version, Vars};
use super::{ConfigError, MicrosoftConfig, OidcConfigError, UrlPolicy, DEFAULT_MICROSOFT_AUTHORITY_URL};
use crate::domain::sealing::SealingKeys;
use crate::domain::secret::Secret;

/// Real Graph API endpoint; tests and the local stack point `FACEBOOK_GRAPH_URL` at the emulator.
pub const DEFAULT_FACEBOOK_GRAPH_URL: &str = "https://graph.facebook.com";
/// The Graph API version the verifier is written against (pinned, not "latest").
pub const DEFAULT_FACEBOOK_GRAPH_VERSION: &str = "v22.0";
pub const DEFAULT_FACEBOOK_LIMITED_JWKS_URL: &str = "https://limited.facebook.com/.well-known/oauth/openid/jwks/";
pub const DEFAULT_GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
pub const DEFAULT_GOOGLE_TOKENINFO_URL: &str = "https://oauth2.googleapis.com/tokeninfo";
pub const DEFAULT_GOOGLE_USERINFO_URL: &str = "https://openidconnect.googleapis.com/v1/userinfo";
pub const DEFAULT_TWITTER_API_URL: &str = "https://api.twitter.com";
pub const DEFAULT_LINKEDIN_JWKS_URL: &str = "https://www.linkedin.com/oauth/openid/jwks";
pub const DEFAULT_LINKEDIN_USERINFO_URL: &str = "https://api.linkedin.com/v2/userinfo";
pub const DEFAULT_LINKEDIN_INTROSPECT_URL: &str = "https://www.linkedin.com/oauth/v2/introspectToken";
pub const DEFAULT_APPLE_JWKS_URL: &str = "https://appleid.apple.com/auth/keys";
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";
pub const DEFAULT_APPLE_TOKEN_URL: &str = "https://appleid.apple.com/auth/token";
pub const DEFAULT_APPLE_REVOKE_URL: &str = "https://appleid.apple.com/auth/revoke";

#[derive(Debug, Clone)]
pub struct FacebookConfig {
    pub app_id: String,
    pub app_secret: Secret,
    /// Base URL without the version, e.g. `https://graph.facebook.com`.
    pub graph_url: String,
    pub graph_version: String,
    /// Keys of Limited Login ID tokens (iOS).
    pub limited_jwks_url: String,
}

#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// Our OAuth client ids (web, iOS, Android…): an ID token's `aud` must be one of them.
    pub client_ids: Vec<String>,
    pub jwks_url: String,
    pub tokeninfo_url: String,
    pub userinfo_url: String,
}

#[derive(Debug, Clone)]
pub struct TwitterConfig {
    pub consumer_key: String,
    pub consumer_secret: Secret,
    /// Accept OAuth 2.0 user bearer tokens, which X offers no way to check the audience of (any
    /// X app's token is accepted). Off unless `TWITTER_ACCEPT_OAUTH2_BEARER=true`.
    pub accept_oauth2_bearer: bool,
    /// `https://api.twitter.com`: `/1.1/account/verify_credentials.json` and `/2/users/me`.
    pub api_url: String,
}

#[derive(Debug, Clone)]
pub struct LinkedInConfig {
    pub client_id: String,
    /// Needed only to accept access tokens (introspection binds them to our app).
    pub client_secret: Option<Secret>,
    pub jwks_url: String,
    pub introspect_url: String,
    pub userinfo_url: String,
}

#[derive(Debug, Clone)]
pub struct AppleConfig {
    /// Our bundle id and Services ids: an ID token's `aud` must be one of them.
    pub client_ids: Vec<String>,
    pub jwks_url: String,
}

/// Sign in with Apple's REST API for our own calls (exchanging an authorization code, revoking a
/// refresh token): the team and key that sign our client secret JWTs. Configured as a group
/// (`APPLE_TEAM_ID`, `APPLE_KEY_ID`, `APPLE_PRIVATE_KEY`, `REFRESH_TOKEN_KEY`); without it no code
/// is exchanged and nothing is revoked at Apple. Independent of `APPLE_CLIENT_IDS`: the deletion
/// functions revoke without serving Apple logins.
#[derive(Debug, Clone)]
pub struct AppleRevocationConfig {
    pub team_id: String,
    pub key_id: String,
    /// The Sign in with Apple private key, PKCS#8 PEM (the `.p8`), checked at cold start.
    pub private_key: Secret,
    pub token_url: String,
    pub revoke_url: String,
    /// Seal the refresh tokens at rest (the current key; the previous one still opens).
    pub refresh_token_key: SealingKeys,
}

#[derive(Debug, Clone)]
pub struct GitHubConfig {
    pub client_id: String,
    pub client_secret: Secret,
    pub api_url: String,
}

/// Every provider's endpoints, whether or not the deployment has an app there: an instance's own
/// app (`crate::domain::instance_apps`) is checked at the same endpoints as the deployment's.
#[derive(Debug, Clone)]
pub struct ProviderUrls {
    pub facebook_graph: String,
    pub facebook_graph_version: String,
    pub facebook_limited_jwks: String,
    pub google_jwks: String,
    pub google_tokeninfo: String,
    pub google_userinfo: String,
    pub twitter_api: String,
    pub linkedin_jwks: String,
    pub linkedin_introspect: String,
    pub linkedin_userinfo: String,
    pub apple_jwks: String,
    pub github_api: String,
    /// `MICROSOFT_AUTHORITY_URL` as given (an instance's own Microsoft app is checked there).
    pub microsoft_authority: String,
}

/// Facebook: served when `FACEBOOK_APP_ID` is set; then `FACEBOOK_APP_SECRET` is required.
pub(super) fn facebook<F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
) -> Result<Option<FacebookConfig>, ConfigError> {
    Ok(match vars.id("FACEBOOK_APP_ID")? {
        None => None,
        Some(app_id) => {
            let graph_version =
                vars.get("FACEBOOK_GRAPH_VERSION").unwrap_or_else(|| DEFAULT_FACEBOOK_GRAPH_VERSION.into());
            if !is_graph_version(&graph_version) {
                return Err(ConfigError::Invalid {
                    name: "FACEBOOK_GRAPH_VERSION",
                    reason: "expected a version like v22.0",
                });
            }
            Some(FacebookConfig {
                app_id,
                app_secret: Secret::new(vars.required("FACEBOOK_APP_SECRET")?),
                graph_url: vars.url("FACEBOOK_GRAPH_URL", DEFAULT_FACEBOOK_GRAPH_URL)?,
                graph_version,
                limited_jwks_url: vars.url("FACEBOOK_LIMITED_JWKS_URL", DEFAULT_FACEBOOK_LIMITED_JWKS_URL)?,
            })
        }
    })
}

/// Google: served when `GOOGLE_CLIENT_IDS` is set.
pub(super) fn google<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<Option<GoogleConfig>, ConfigError> {
    Ok(match vars.id_list("GOOGLE_CLIENT_IDS")? {
        None => None,
        Some(client_ids) => Some(GoogleConfig {
            client_ids,
            jwks_url: vars.url("GOOGLE_JWKS_URL", DEFAULT_GOOGLE_JWKS_URL)?,
            tokeninfo_url: vars.url("GOOGLE_TOKENINFO_URL", DEFAULT_GOOGLE_TOKENINFO_URL)?,
            userinfo_url: vars.url("GOOGLE_USERINFO_URL", DEFAULT_GOOGLE_USERINFO_URL)?,
        }),
    })
}

/// X (Twitter): served when `TWITTER_CONSUMER_KEY` is set; then `TWITTER_CONSUMER_SECRET` is required.
pub(super) fn twitter<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<Option<TwitterConfig>, ConfigError> {
    Ok(match vars.id("TWITTER_CONSUMER_KEY")? {
        None => None,
        Some(consumer_key) => Some(TwitterConfig {
            consumer_key,
            consumer_secret: Secret::new(vars.required("TWITTER_CONSUMER_SECRET")?),
            accept_oauth2_bearer: vars.flag("TWITTER_ACCEPT_OAUTH2_BEARER")?,
            api_url: vars.url("TWITTER_API_URL", DEFAULT_TWITTER_API_URL)?,
        }),
    })
}

/// LinkedIn: served when `LINKEDIN_CLIENT_ID` is set (its secret is optional).
pub(super) fn linkedin<F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
) -> Result<Option<LinkedInConfig>, ConfigError> {
    Ok(match vars.id("LINKEDIN_CLIENT_ID")? {
        None => None,
        Some(client_id) => Some(LinkedInConfig {
            client_id,
            client_secret: vars.get("LINKEDIN_CLIENT_SECRET").map(Secret::new),
            jwks_url: vars.url("LINKEDIN_JWKS_URL", DEFAULT_LINKEDIN_JWKS_URL)?,
            introspect_url: vars.url("LINKEDIN_INTROSPECT_URL", DEFAULT_LINKEDIN_INTROSPECT_URL)?,
            userinfo_url: vars.url("LINKEDIN_USERINFO_URL", DEFAULT_LINKEDIN_USERINFO_URL)?,
        }),
    })
}

/// Apple: served when `APPLE_CLIENT_IDS` is set.
pub(super) fn apple<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<Option<AppleConfig>, ConfigError> {
    Ok(match vars.id_list("APPLE_CLIENT_IDS")? {
        None => None,
        Some(client_ids) => {
            Some(AppleConfig { client_ids, jwks_url: vars.url("APPLE_JWKS_URL", DEFAULT_APPLE_JWKS_URL)? })
        }
    })
}

/// The Apple revocation group: all of `APPLE_TEAM_ID`, `APPLE_KEY_ID`, `APPLE_PRIVATE_KEY`,
/// `REFRESH_TOKEN_KEY`, or none of them.
pub(super) fn apple_revocation<F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
) -> Result<Option<AppleRevocationConfig>, ConfigError> {
    const GROUP: [&str; 4] = ["APPLE_TEAM_ID", "APPLE_KEY_ID", "APPLE_PRIVATE_KEY", "REFRESH_TOKEN_KEY"];
    if GROUP.iter().all(|name| vars.get(name).is_none()) {
        return Ok(None);
    }
    let team_id = vars.id("APPLE_TEAM_ID")?.ok_or(ConfigError::Missing("APPLE_TEAM_ID"))?;
    let key_id = vars.id("APPLE_KEY_ID")?.ok_or(ConfigError::Missing("APPLE_KEY_ID"))?;
    // SSM and some consoles keep a PEM on one line with literal `\n`s.
    let pem = vars.required("APPLE_PRIVATE_KEY")?.replace("\\n", "\n");
    if crate::domain::apple_key::signing_key(&pem).is_none() {
        return Err(ConfigError::Invalid {
            name: "APPLE_PRIVATE_KEY",
            reason: "expected the Sign in with Apple key: a P-256 private key, PKCS#8 PEM (the .p8 file)",
        });
    }
    let (current, previous) =
        versioned(vars, &REFRESH_TOKEN_KEY_NAMES, sealing_key)?.ok_or(ConfigError::Missing("REFRESH_TOKEN_KEY"))?;
    let refresh_token_key = SealingKeys::new(current, previous);
    Ok(Some(AppleRevocationConfig {
        team_id,
        key_id,
        private_key: Secret::new(pem),
        token_url: vars.url("APPLE_TOKEN_URL", DEFAULT_APPLE_TOKEN_URL)?,
        revoke_url: vars.url("APPLE_REVOKE_URL", DEFAULT_APPLE_REVOKE_URL)?,
        refresh_token_key,
    }))
}

/// GitHub: served when `GITHUB_CLIENT_ID` is set; then `GITHUB_CLIENT_SECRET` is required.
pub(super) fn github<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<Option<GitHubConfig>, ConfigError> {
    Ok(match vars.id("GITHUB_CLIENT_ID")? {
        None => None,
        Some(client_id) => Some(GitHubConfig {
            client_id,
            client_secret: Secret::new(vars.required("GITHUB_CLIENT_SECRET")?),
            api_url: vars.url("GITHUB_API_URL", DEFAULT_GITHUB_API_URL)?,
        }),
    })
}

/// The Microsoft preset: served when `MICROSOFT_CLIENT_IDS` is set; `MICROSOFT_TENANT` is
/// `common` unless set.
pub(super) fn microsoft<F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
    policy: UrlPolicy,
) -> Result<Option<MicrosoftConfig>, ConfigError> {
    let Some(client_ids) = vars.id_list("MICROSOFT_CLIENT_IDS")? else { return Ok(None) };
    let tenant = vars.get("MICROSOFT_TENANT").unwrap_or_else(|| "common".to_string());
    let authority = vars.get("MICROSOFT_AUTHORITY_URL").unwrap_or_else(|| DEFAULT_MICROSOFT_AUTHORITY_URL.to_string());
    MicrosoftConfig::new(&tenant, client_ids, &authority, policy).map(Some).map_err(|e| match e {
        OidcConfigError::Tenant(_) => ConfigError::Invalid {
            name: "MICROSOFT_TENANT",
            reason: "common, organizations, consumers or a tenant id (GUID)",
        },
        _ => ConfigError::Invalid {
            name: "MICROSOFT_AUTHORITY_URL",
            reason: "an https:// URL (http:// on loopback only with ALLOW_INSECURE_PROVIDER_URLS=true)",
        },
    })
}

/// Every provider's endpoints (the `*_URL` variables or the real ones).
pub(super) fn provider_urls<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<ProviderUrls, ConfigError> {
    Ok(ProviderUrls {
        facebook_graph: vars.url("FACEBOOK_GRAPH_URL", DEFAULT_FACEBOOK_GRAPH_URL)?,
        facebook_graph_version: vars
            .get("FACEBOOK_GRAPH_VERSION")
            .filter(|v| is_graph_version(v))
            .unwrap_or_else(|| DEFAULT_FACEBOOK_GRAPH_VERSION.into()),
        facebook_limited_jwks: vars.url("FACEBOOK_LIMITED_JWKS_URL", DEFAULT_FACEBOOK_LIMITED_JWKS_URL)?,
        google_jwks: vars.url("GOOGLE_JWKS_URL", DEFAULT_GOOGLE_JWKS_URL)?,
        google_tokeninfo: vars.url("GOOGLE_TOKENINFO_URL", DEFAULT_GOOGLE_TOKENINFO_URL)?,
        google_userinfo: vars.url("GOOGLE_USERINFO_URL", DEFAULT_GOOGLE_USERINFO_URL)?,
        twitter_api: vars.url("TWITTER_API_URL", DEFAULT_TWITTER_API_URL)?,
        linkedin_jwks: vars.url("LINKEDIN_JWKS_URL", DEFAULT_LINKEDIN_JWKS_URL)?,
        linkedin_introspect: vars.url("LINKEDIN_INTROSPECT_URL", DEFAULT_LINKEDIN_INTROSPECT_URL)?,
        linkedin_userinfo: vars.url("LINKEDIN_USERINFO_URL", DEFAULT_LINKEDIN_USERINFO_URL)?,
        apple_jwks: vars.url("APPLE_JWKS_URL", DEFAULT_APPLE_JWKS_URL)?,
        github_api: vars.url("GITHUB_API_URL", DEFAULT_GITHUB_API_URL)?,
        // Checked where it is used (`MicrosoftConfig::new`): for an instance's own Microsoft app.
        microsoft_authority: vars
            .get("MICROSOFT_AUTHORITY_URL")
            .unwrap_or_else(|| DEFAULT_MICROSOFT_AUTHORITY_URL.to_string()),
    })
}

impl super::Config {
    /// This deployment's configuration as one instance sees it: at each provider where
    /// `apps` has the instance's own app, that app (at the deployment's endpoints) in place of
    /// the deployment's; elsewhere the deployment's, unchanged (or none: not served). An
    /// instance's own X app never accepts OAuth 2.0 bearer tokens, which X gives no way to bind
    /// to an app.
    pub fn for_instance(&self, apps: &crate::domain::instance_apps::InstanceApps) -> super::Config {
        use crate::domain::identity::Provider;
        use crate::domain::instance_apps::AppleTeamKey;
        let mut c = self.clone();
        let u = &self.provider_urls;
        for app in &apps.apps {
            let id = app.id().to_string();
            match app.provider {
                Provider::Facebook => {
                    c.facebook = app.secret.clone().map(|app_secret| FacebookConfig {
                        app_id: id,
                        app_secret,
                        graph_url: u.facebook_graph.clone(),
                        graph_version: u.facebook_graph_version.clone(),
                        limited_jwks_url: u.facebook_limited_jwks.clone(),
                    })
                }
                Provider::Google => {
                    c.google = Some(GoogleConfig {
                        client_ids: app.ids.clone(),
                        jwks_url: u.google_jwks.clone(),
                        tokeninfo_url: u.google_tokeninfo.clone(),
                        userinfo_url: u.google_userinfo.clone(),
                    })
                }
                Provider::Twitter => {
                    c.twitter = app.secret.clone().map(|consumer_secret| TwitterConfig {
                        consumer_key: id,
                        consumer_secret,
                        accept_oauth2_bearer: false,
                        api_url: u.twitter_api.clone(),
                    })
                }
                Provider::LinkedIn => {
                    c.linkedin = Some(LinkedInConfig {
                        client_id: id,
                        client_secret: app.secret.clone(),
                        jwks_url: u.linkedin_jwks.clone(),
                        introspect_url: u.linkedin_introspect.clone(),
                        userinfo_url: u.linkedin_userinfo.clone(),
                    })
                }
                Provider::Apple => {
                    c.apple = Some(AppleConfig { client_ids: app.ids.clone(), jwks_url: u.apple_jwks.clone() });
                    // The app's own team key signs its code exchange and revocation (Apple's
                    // endpoints and REFRESH_TOKEN_KEY the deployment's); one that is refused:
                    // none at all, never the deployment's key in its place. Without one: the
                    // deployment's team key (the same team).
                    match &app.team_key {
                        None => {}
                        Some(AppleTeamKey::Refused) => c.apple_revocation = None,
                        Some(AppleTeamKey::Own { team_id, key_id, private_key }) => {
                            c.apple_revocation = self.apple_revocation.as_ref().map(|d| AppleRevocationConfig {
                                team_id: team_id.clone(),
                                key_id: key_id.clone(),
                                private_key: private_key.clone(),
                                ..d.clone()
                            })
                        }
                    }
                }
                Provider::GitHub => {
                    c.github = app.secret.clone().map(|client_secret| GitHubConfig {
                        client_id: id,
                        client_secret,
                        api_url: u.github_api.clone(),
                    })
                }
                // `OwnApp::new` refuses them: no instance app of these kinds exists.
                Provider::Microsoft | Provider::Oidc(_) => {}
            }
        }
        c
    }
}

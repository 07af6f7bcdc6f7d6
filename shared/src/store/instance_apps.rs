//! Instances' own provider apps (`crate::domain::instance_apps`): one item per instance,
//! `INSTCONF#{instance}` / `PROVIDERS`, with one map attribute per provider (named as the
//! provider: `facebook`, `google`, ...) holding the public ids (`ids`) and the secret sealed
//! (`secret`, under `INSTANCE_SECRETS_KEY`), never in plain text. The functions read it with
//! one `GetItem` (per execution environment and cache period:
//! `crate::usecases::instance_providers`); only the admin tool writes it, one provider's
//! attribute at a time (`SET`/`REMOVE`), so two changes of different providers never clobber
//! each other. An instance's custom OpenID Connect providers (`oidc-{name}`) and its own Microsoft
//! app (`microsoft`) are other attributes of the same item, read by the same `GetItem`
//! ([`InstanceOidc`]), without secrets (ID tokens only).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::classify;
use super::items::{n, s};
use super::{keys, StoreError, UserStore};
use crate::config::{ClaimNames, CustomOidcConfig, JwksSource, MicrosoftConfig, UrlPolicy};
use crate::domain::clock;
use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::instance_apps::{secret_aad, AppleTeamKey, InstanceApps, OwnApp};
use crate::domain::sealing::SealingKeys;

/// Most custom OpenID Connect providers one instance may have (its item stays far below
/// DynamoDB's 400 KB: an entry is well under 2 KB).
pub const MAX_INSTANCE_OIDC_PROVIDERS: usize = 16;

/// Why an instance's apps could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum InstanceAppsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A secret sealed under a key this deployment does not have (or none configured), or one
    /// that does not open: its provider cannot be served for the instance (fail closed).
    #[error("the secret of {provider} of instance {instance} does not open: {why}")]
    Sealed { instance: String, provider: &'static str, why: String },
}

/// One provider's attribute: (ids, sealed secret).
fn app_of(value: &AttributeValue) -> Result<(Vec<String>, Option<String>), StoreError> {
    let corrupt = StoreError::Corrupt("instance app");
    let map = value.as_m().map_err(|_| corrupt)?;
    let ids = match map.get("ids") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| v.as_s().cloned().map_err(|_| StoreError::Corrupt("instance app ids")))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(StoreError::Corrupt("instance app ids")),
    };
    let secret = match map.get("secret") {
        None => None,
        Some(v) => Some(v.as_s().map_err(|_| StoreError::Corrupt("instance app secret"))?.clone()),
    };
    Ok((ids, secret))
}

/// The attribute of a custom provider: `oidc-{name}` ([`Provider::as_str`]).
const OIDC_ATTRIBUTE_PREFIX: &str = "oidc-";
/// The attribute of an instance's own Microsoft app.
const MICROSOFT_ATTRIBUTE: &str = "microsoft";

/// An instance's own OpenID Connect providers: its custom providers (at most
/// [`MAX_INSTANCE_OIDC_PROVIDERS`], by name) and its own Microsoft app. No secret: ID tokens
/// only, whose audience (a public client id) binds them to the app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceOidc {
    pub custom: Vec<CustomOidcConfig>,
    /// At the deployment's authority (`MICROSOFT_AUTHORITY_URL`).
    pub microsoft: Option<MicrosoftConfig>,
    /// The instance has a Microsoft entry that failed its checks when read: Microsoft is not
    /// served for it at all (never the deployment's Microsoft app in its place).
    pub microsoft_refused: bool,
}

impl InstanceOidc {
    pub fn is_empty(&self) -> bool {
        self.custom.is_empty() && self.microsoft.is_none() && !self.microsoft_refused
    }
}

/// How stored OpenID Connect entries are checked when read: the functions' own URL rule and
/// Microsoft authority (an entry written under a laxer rule fails closed here).
#[derive(Debug, Clone, Copy)]
pub struct OidcReadRules<'a> {
    pub policy: UrlPolicy,
    pub microsoft_authority: &'a str,
}

fn string_list(map: &HashMap<String, AttributeValue>, name: &'static str) -> Result<Vec<String>, StoreError> {
    match map.get(name) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(list)) => {
            list.iter().map(|v| v.as_s().cloned().map_err(|_| StoreError::Corrupt(name))).collect()
        }
        Some(_) => Err(StoreError::Corrupt(name)),
    }
}

fn opt_string(map: &HashMap<String, AttributeValue>, name: &'static str) -> Result<Option<String>, StoreError> {
    match map.get(name) {
        None => Ok(None),
        Some(v) => v.as_s().cloned().map(Some).map_err(|_| StoreError::Corrupt(name)),
    }
}

/// A stored custom provider, checked with [`CustomOidcConfig::new`]'s rules.
fn custom_of(name: &str, value: &AttributeValue, policy: UrlPolicy) -> Result<CustomOidcConfig, String> {
    let map = value.as_m().map_err(|_| "not a map".to_string())?;
    let text = |e: StoreError| e.to_string();
    let issuer = opt_string(map, "issuer").map_err(text)?.ok_or("no issuer")?;
    let mut c = CustomOidcConfig::new(name, &issuer, string_list(map, "ids").map_err(text)?, policy)
        .map_err(|e| e.to_string())?;
    if let Some(url) = opt_string(map, "jwks_url").map_err(text)? {
        c = c.with_jwks_url(&url, policy).map_err(|e| e.to_string())?;
    }
    let algorithms = string_list(map, "algorithms").map_err(text)?;
    if !algorithms.is_empty() {
        let names: Vec<&str> = algorithms.iter().map(String::as_str).collect();
        c = c.with_algorithms(&names).map_err(|e| e.to_string())?;
    }
    let claim = |n: &'static str, default: String| opt_string(map, n).map(|v| v.unwrap_or(default));
    let defaults = ClaimNames::default();
    let (n, e, p) = (
        claim("name_claim", defaults.name).map_err(text)?,
        claim("email_claim", defaults.email).map_err(text)?,
        claim("picture_claim", defaults.picture).map_err(text)?,
    );
    c = c.with_claims(&n, &e, &p).map_err(|e| e.to_string())?;
    let trust = match map.get("trust_email") {
        None => false,
        Some(AttributeValue::Bool(b)) => *b,
        Some(_) => return Err("trust_email is not a boolean".into()),
    };
    Ok(c.with_trust_email(trust))
}

/// A stored Microsoft app, checked with [`MicrosoftConfig::new`]'s rules at `authority`.
fn microsoft_of(value: &AttributeValue, rules: OidcReadRules<'_>) -> Result<MicrosoftConfig, String> {
    let map = value.as_m().map_err(|_| "not a map".to_string())?;
    let tenant = opt_string(map, "tenant").map_err(|e| e.to_string())?.ok_or("no tenant")?;
    let ids = string_list(map, "ids").map_err(|e| e.to_string())?;
    MicrosoftConfig::new(&tenant, ids, rules.microsoft_authority, rules.policy).map_err(|e| e.to_string())
}

/// The OpenID Connect entries of an instance's item. An entry that fails its checks is left
/// out (that provider is not served for the instance: fail closed) and logged, without
/// anything but its attribute name and the reason (there is no secret in it).
fn oidc_of_item(
    instance: &InstanceName,
    item: &HashMap<String, AttributeValue>,
    rules: OidcReadRules<'_>,
) -> InstanceOidc {
    let mut names: Vec<&String> = item.keys().filter(|k| k.starts_with(OIDC_ATTRIBUTE_PREFIX)).collect();
    names.sort();
    let mut custom = Vec::new();
    for attribute in names {
        if custom.len() == MAX_INSTANCE_OIDC_PROVIDERS {
            tracing::warn!(%instance, provider = %attribute, "more custom providers than allowed: not served");
            continue;
        }
        let name = &attribute[OIDC_ATTRIBUTE_PREFIX.len()..];
        match item.get(attribute).map(|v| custom_of(name, v, rules.policy)) {
            Some(Ok(c)) => custom.push(c),
            Some(Err(why)) => {
                tracing::warn!(%instance, provider = %attribute, %why, "a stored custom provider is invalid: not served")
            }
            None => {}
        }
    }
    let microsoft_refused = item.get(MICROSOFT_ATTRIBUTE).is_some();
    let microsoft = item.get(MICROSOFT_ATTRIBUTE).and_then(|v| match microsoft_of(v, rules) {
        Ok(c) => Some(c),
        Err(why) => {
            tracing::warn!(%instance, provider = MICROSOFT_ATTRIBUTE, %why, "a stored Microsoft app is invalid: not served");
            None
        }
    });
    let microsoft_refused = microsoft_refused && microsoft.is_none();
    InstanceOidc { custom, microsoft, microsoft_refused }
}

/// Why an OpenID Connect provider could not be set.
#[derive(Debug, thiserror::Error)]
pub enum InstanceOidcError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("an instance has at most {MAX_INSTANCE_OIDC_PROVIDERS} custom providers")]
    TooMany,
}

impl UserStore {
    /// `instance`'s own apps with their secrets opened by `keys` (empty: it has none). An
    /// attribute of a provider this code does not know (a later kind) is skipped.
    pub async fn instance_apps(
        &self,
        instance: &InstanceName,
        keys: Option<&SealingKeys>,
    ) -> Result<InstanceApps, InstanceAppsError> {
        let Some(item) = self.get(keys::instance_apps(instance), false).await? else {
            return Ok(InstanceApps::default());
        };
        apps_of_item(instance, &item, keys)
    }

    /// `instance`'s own apps and its OpenID Connect providers, from one read of its item (the
    /// functions' read, once per environment and cache period).
    pub async fn instance_providers(
        &self,
        instance: &InstanceName,
        keys: Option<&SealingKeys>,
        rules: OidcReadRules<'_>,
    ) -> Result<(InstanceApps, InstanceOidc), InstanceAppsError> {
        let Some(item) = self.get(keys::instance_apps(instance), false).await? else {
            return Ok((InstanceApps::default(), InstanceOidc::default()));
        };
        Ok((apps_of_item(instance, &item, keys)?, oidc_of_item(instance, &item, rules)))
    }

    /// Sets `instance`'s custom provider `config` (replacing one of the same name); refused
    /// when the instance has [`MAX_INSTANCE_OIDC_PROVIDERS`] others already.
    pub async fn put_instance_oidc(
        &self,
        instance: &InstanceName,
        config: &CustomOidcConfig,
    ) -> Result<(), InstanceOidcError> {
        let attribute = Provider::Oidc(config.name).as_str().to_string();
        let item = self.get(keys::instance_apps(instance), true).await?.unwrap_or_default();
        let others = item.keys().filter(|k| k.starts_with(OIDC_ATTRIBUTE_PREFIX) && **k != attribute).count();
        if others >= MAX_INSTANCE_OIDC_PROVIDERS {
            return Err(InstanceOidcError::TooMany);
        }
        let mut value: HashMap<String, AttributeValue> = HashMap::from([
            ("issuer".to_string(), s(config.issuer.as_str())),
            ("ids".to_string(), AttributeValue::L(config.client_ids.iter().map(|i| s(i.as_str())).collect())),
            ("algorithms".to_string(), AttributeValue::L(config.algorithms.iter().map(|a| s(a.name())).collect())),
            ("name_claim".to_string(), s(config.claims.name.as_str())),
            ("email_claim".to_string(), s(config.claims.email.as_str())),
            ("picture_claim".to_string(), s(config.claims.picture.as_str())),
            ("trust_email".to_string(), AttributeValue::Bool(config.trust_email)),
            ("updated_at".to_string(), n(clock::now_secs())),
        ]);
        if let JwksSource::Url(url) = &config.jwks {
            value.insert("jwks_url".to_string(), s(url.as_str()));
        }
        self.set_attribute(instance, &attribute, value).await?;
        Ok(())
    }

    /// Sets `instance`'s own Microsoft app (tenant and client ids; the authority is each
    /// deployment's own).
    pub async fn put_instance_microsoft(
        &self,
        instance: &InstanceName,
        config: &MicrosoftConfig,
    ) -> Result<(), StoreError> {
        let value = HashMap::from([
            ("tenant".to_string(), s(config.tenant.segment())),
            ("ids".to_string(), AttributeValue::L(config.client_ids.iter().map(|i| s(i.as_str())).collect())),
            ("updated_at".to_string(), n(clock::now_secs())),
        ]);
        self.set_attribute(instance, MICROSOFT_ATTRIBUTE, value).await
    }

    /// `SET #p = :value` on the instance's item: one provider's attribute, the others untouched.
    async fn set_attribute(
        &self,
        instance: &InstanceName,
        attribute: &str,
        value: HashMap<String, AttributeValue>,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::instance_apps(instance)))
            .update_expression("SET #p = :app")
            .expression_attribute_names("#p", attribute)
            .expression_attribute_values(":app", AttributeValue::M(value))
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }
}

/// An Apple app's own team key (`team_id`, `key_id`, `team_key` sealed like a secret): `None`
/// without one; [`AppleTeamKey::Refused`] when it does not open or is not a Sign in with Apple
/// key (logged without the key: that instance's Apple exchange and revocation fail closed).
fn team_key_of(
    instance: &InstanceName,
    value: &AttributeValue,
    app_id: &str,
    keys: Option<&SealingKeys>,
) -> Option<AppleTeamKey> {
    let map = value.as_m().ok()?;
    if !map.contains_key(TEAM_KEY) && !map.contains_key("team_id") && !map.contains_key("key_id") {
        return None;
    }
    let text = |name: &str| map.get(name).and_then(|v| v.as_s().ok()).cloned();
    let opened = (|| {
        let (team_id, key_id, sealed) =
            (text("team_id").ok_or("no team_id")?, text("key_id").ok_or("no key_id")?, text(TEAM_KEY).ok_or("no key")?);
        let keys = keys.ok_or("INSTANCE_SECRETS_KEY is not configured")?;
        let pem = keys
            .open(&sealed, &secret_aad(instance.as_str(), Provider::Apple, app_id))
            .map_err(|_| "the key does not open")?;
        let app = OwnApp::new(Provider::Apple, vec![app_id.to_string()], None).map_err(|_| "bad app id")?;
        app.with_team_key(&team_id, &key_id, &pem).map_err(|_| "not a Sign in with Apple key (P-256, PKCS#8)")
    })();
    match opened {
        Ok(app) => app.team_key,
        Err(why) => {
            tracing::error!(%instance, provider = "apple", why, "an instance's own Apple team key cannot be used: its code exchange and revocation fail closed");
            Some(AppleTeamKey::Refused)
        }
    }
}

/// The attribute of an Apple app's own team key (the `.p8`, sealed).
const TEAM_KEY: &str = "team_key";

/// The built-in providers' apps of an instance's item, secrets opened by `keys`.
fn apps_of_item(
    instance: &InstanceName,
    item: &HashMap<String, AttributeValue>,
    keys: Option<&SealingKeys>,
) -> Result<InstanceApps, InstanceAppsError> {
    {
        let mut apps = Vec::new();
        for provider in Provider::ALL {
            let Some(value) = item.get(provider.as_str()) else { continue };
            let (ids, sealed) = app_of(value)?;
            let first = ids.first().cloned().unwrap_or_default();
            let secret = match sealed {
                None => None,
                Some(sealed) => {
                    let sealed_err = |why: String| InstanceAppsError::Sealed {
                        instance: instance.to_string(),
                        provider: provider.as_str(),
                        why,
                    };
                    let keys = keys.ok_or_else(|| sealed_err("INSTANCE_SECRETS_KEY is not configured".into()))?;
                    let aad = secret_aad(instance.as_str(), provider, &first);
                    Some(keys.open(&sealed, &aad).map_err(|e| sealed_err(e.to_string()))?)
                }
            };
            let mut app = OwnApp::new(provider, ids, secret).map_err(|_| StoreError::Corrupt("instance app"))?;
            if provider == Provider::Apple {
                app.team_key = team_key_of(instance, value, &first, keys);
            }
            apps.push(app);
        }
        Ok(InstanceApps { apps })
    }
}

impl UserStore {
    /// Sets `instance`'s own app at its provider (replacing one there was), its secret sealed
    /// under the current key of `keys`.
    pub async fn put_instance_app(
        &self,
        instance: &InstanceName,
        app: &OwnApp,
        keys: &SealingKeys,
    ) -> Result<(), InstanceAppsError> {
        let mut value: HashMap<String, AttributeValue> = HashMap::from([
            ("ids".to_string(), AttributeValue::L(app.ids.iter().map(|i| s(i.as_str())).collect())),
            ("updated_at".to_string(), n(clock::now_secs())),
        ]);
        if let Some(secret) = &app.secret {
            let aad = secret_aad(instance.as_str(), app.provider, app.id());
            let sealed = keys.seal(secret, &aad).map_err(|e| InstanceAppsError::Sealed {
                instance: instance.to_string(),
                provider: app.provider.as_str(),
                why: e.to_string(),
            })?;
            value.insert("secret".to_string(), s(sealed));
        }
        if let Some(AppleTeamKey::Own { team_id, key_id, private_key }) = &app.team_key {
            let aad = secret_aad(instance.as_str(), app.provider, app.id());
            let sealed = keys.seal(private_key, &aad).map_err(|e| InstanceAppsError::Sealed {
                instance: instance.to_string(),
                provider: app.provider.as_str(),
                why: e.to_string(),
            })?;
            value.insert("team_id".to_string(), s(team_id.as_str()));
            value.insert("key_id".to_string(), s(key_id.as_str()));
            value.insert(TEAM_KEY.to_string(), s(sealed));
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::instance_apps(instance)))
            .update_expression("SET #p = :app")
            .expression_attribute_names("#p", app.provider.as_str())
            .expression_attribute_values(":app", AttributeValue::M(value))
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }

    /// Removes `instance`'s own app at `provider`; `false` if it had none.
    pub async fn remove_instance_app(&self, instance: &InstanceName, provider: Provider) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::instance_apps(instance)))
            .update_expression("REMOVE #p")
            .condition_expression("attribute_exists(#p)")
            .expression_attribute_names("#p", provider.as_str())
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// Re-seals every secret of `instance`'s own apps under the current key of `keys` (after a
    /// rotation of `INSTANCE_SECRETS_KEY`, before the previous key is removed): each only if
    /// it is still the one read (a concurrent `set-provider` wins). Returns how many.
    pub async fn reseal_instance_apps(
        &self,
        instance: &InstanceName,
        keys: &SealingKeys,
    ) -> Result<usize, InstanceAppsError> {
        let Some(item) = self.get(keys::instance_apps(instance), true).await? else { return Ok(0) };
        let mut resealed = 0;
        for provider in Provider::ALL {
            let Some(value) = item.get(provider.as_str()) else { continue };
            let (ids, secret) = app_of(value)?;
            let team_key = value.as_m().ok().and_then(|m| m.get(TEAM_KEY)).and_then(|v| v.as_s().ok()).cloned();
            for (attribute, sealed) in [("secret", secret), (TEAM_KEY, team_key)] {
                let Some(sealed) = sealed else { continue };
                let aad = secret_aad(instance.as_str(), provider, ids.first().map(String::as_str).unwrap_or_default());
                let sealed_err = |why: String| InstanceAppsError::Sealed {
                    instance: instance.to_string(),
                    provider: provider.as_str(),
                    why,
                };
                let plain = keys.open(&sealed, &aad).map_err(|e| sealed_err(e.to_string()))?;
                let resealed_value = keys.seal(&plain, &aad).map_err(|e| sealed_err(e.to_string()))?;
                let out = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(keys::instance_apps(instance)))
                    .update_expression("SET #p.#s = :new")
                    .condition_expression("#p.#s = :old")
                    .expression_attribute_names("#p", provider.as_str())
                    .expression_attribute_names("#s", attribute)
                    .expression_attribute_values(":new", s(resealed_value))
                    .expression_attribute_values(":old", s(sealed))
                    .send()
                    .await;
                match out {
                    Ok(_) => resealed += 1,
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                    Err(e) => return Err(classify("UpdateItem", e).into()),
                }
            }
        }
        Ok(resealed)
    }
}

//! Instances' own provider apps (`crate::domain::instance_apps`): one item per instance,
//! `INSTCONF#{instance}` / `PROVIDERS`, with one map attribute per provider (named as the
//! provider: `facebook`, `google`, ...) holding the public ids (`ids`) and the secret sealed
//! (`secret`, under `INSTANCE_SECRETS_KEY`), never in plain text. The functions read it with
//! one `GetItem` (per execution environment and cache period:
//! `crate::usecases::instance_providers`); only the admin tool writes it, one provider's
//! attribute at a time (`SET`/`REMOVE`), so two changes of different providers never clobber
//! each other. A later kind of provider (a custom OpenID Connect issuer) is another attribute.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::classify;
use super::items::{n, s};
use super::{keys, StoreError, UserStore};
use crate::domain::clock;
use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::instance_apps::{secret_aad, InstanceApps, OwnApp};
use crate::domain::sealing::SealingKeys;

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
            apps.push(OwnApp::new(provider, ids, secret).map_err(|_| StoreError::Corrupt("instance app"))?);
        }
        Ok(InstanceApps { apps })
    }

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
            let (ids, Some(sealed)) = app_of(value)? else { continue };
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
                .expression_attribute_names("#s", "secret")
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
        Ok(resealed)
    }
}

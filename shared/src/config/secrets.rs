//! The secrets among the settings: the versioned ones (`TOKEN_SECRET`, `REFRESH_TOKEN_KEY`,
//! `INSTANCE_SECRETS_KEY`: a current value with its version and, after a rotation, the previous
//! one with its own) and `ORIGIN_SECRET`; and the readers the operator's tools use on their own
//! environment (never a command line). Where they come from in AWS: [`super::parameter_store`].

use super::vars::Vars;
use super::ConfigError;
use crate::domain::sealing::{SealingKey, SealingKeys};
use crate::domain::secret::Secret;
use crate::domain::tokens::TokenSecrets;

/// The four variables of a versioned secret: the current value and its version (default 1),
/// the value before the last rotation and its version (required with it, and different).
pub(super) struct VersionedNames {
    current: &'static str,
    current_version: &'static str,
    previous: &'static str,
    previous_version: &'static str,
}

const TOKEN_SECRET_NAMES: VersionedNames = VersionedNames {
    current: "TOKEN_SECRET",
    current_version: "TOKEN_SECRET_VERSION",
    previous: "TOKEN_SECRET_PREVIOUS",
    previous_version: "TOKEN_SECRET_PREVIOUS_VERSION",
};

pub(super) const REFRESH_TOKEN_KEY_NAMES: VersionedNames = VersionedNames {
    current: "REFRESH_TOKEN_KEY",
    current_version: "REFRESH_TOKEN_KEY_VERSION",
    previous: "REFRESH_TOKEN_KEY_PREVIOUS",
    previous_version: "REFRESH_TOKEN_KEY_PREVIOUS_VERSION",
};

const INSTANCE_SECRETS_KEY_NAMES: VersionedNames = VersionedNames {
    current: "INSTANCE_SECRETS_KEY",
    current_version: "INSTANCE_SECRETS_KEY_VERSION",
    previous: "INSTANCE_SECRETS_KEY_PREVIOUS",
    previous_version: "INSTANCE_SECRETS_KEY_PREVIOUS_VERSION",
};

/// A current value with its version and, after a rotation, the previous one with its own.
pub(super) type Versioned<T> = ((u32, T), Option<(u32, T)>);

/// Reads a versioned secret (`names`), each value checked by `parse`; `None` if neither value
/// is set (a previous value without a current one is an error).
pub(super) fn versioned<T, F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
    names: &VersionedNames,
    parse: impl Fn(&'static str, String) -> Result<T, ConfigError>,
) -> Result<Option<Versioned<T>>, ConfigError> {
    if vars.get(names.current).is_none() {
        return match vars.get(names.previous) {
            Some(_) => Err(ConfigError::Missing(names.current)),
            None => Ok(None),
        };
    }
    let version = |name: &'static str| -> Result<Option<u32>, ConfigError> {
        vars.get(name)
            .map(|v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(ConfigError::Invalid { name, reason: "a version number from 1" })
            })
            .transpose()
    };
    let current = (version(names.current_version)?.unwrap_or(1), parse(names.current, vars.required(names.current)?)?);
    let previous = match vars.get(names.previous) {
        None => None,
        Some(value) => {
            let v = version(names.previous_version)?.ok_or(ConfigError::Missing(names.previous_version))?;
            if v == current.0 {
                return Err(ConfigError::Invalid {
                    name: names.previous_version,
                    reason: "must differ from the current version",
                });
            }
            Some((v, parse(names.previous, value)?))
        }
    };
    Ok(Some((current, previous)))
}

/// A sealing key's value: 32 bytes, standard base64.
pub(super) fn sealing_key(name: &'static str, value: String) -> Result<SealingKey, ConfigError> {
    SealingKey::from_base64(&value).map_err(|_| ConfigError::Invalid { name, reason: "32 bytes, standard base64" })
}

/// `INSTANCE_SECRETS_KEY` and its versions (`None` if unset).
pub(super) fn instance_secrets_key<F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
) -> Result<Option<SealingKeys>, ConfigError> {
    Ok(versioned(vars, &INSTANCE_SECRETS_KEY_NAMES, sealing_key)?
        .map(|(current, previous)| SealingKeys::new(current, previous)))
}

/// The instance secrets key of this process's environment, for the operator's tools (which get
/// it from the environment, never from a command line). `None` if `INSTANCE_SECRETS_KEY` is unset.
pub fn instance_secrets_key_from_env() -> Result<Option<SealingKeys>, ConfigError> {
    let get = |name: &str| std::env::var(name).ok();
    instance_secrets_key(&Vars { var: &get, insecure_provider_urls: false })
}

/// Shortest origin secret accepted (a guessable one would let anyone around the WAF).
pub const MIN_ORIGIN_SECRET_LEN: usize = 32;

/// `ORIGIN_SECRET` (the per-client front, `entry::front`): unset or empty = no front.
pub fn origin_secret(value: Option<String>) -> Result<Option<Secret>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) if v.len() < MIN_ORIGIN_SECRET_LEN || v.len() > 256 || !v.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(ConfigError::Invalid { name: "ORIGIN_SECRET", reason: "32 to 256 printable ASCII characters" })
        }
        Some(v) => Ok(Some(Secret::new(v))),
    }
}

/// Reading [`TokenSecrets`] (a domain type, `domain::tokens`) from the settings.
impl TokenSecrets {
    pub(super) fn from_vars<F: Fn(&str) -> Option<String>>(
        vars: &Vars<'_, F>,
    ) -> Result<Option<TokenSecrets>, ConfigError> {
        let secret = |name: &'static str, value: String| {
            if value.len() < 32 {
                return Err(ConfigError::Invalid { name, reason: "at least 32 characters" });
            }
            Ok(Secret::new(value))
        };
        Ok(versioned(vars, &TOKEN_SECRET_NAMES, secret)?.map(|(current, previous)| TokenSecrets { current, previous }))
    }

    /// The token secrets of this process's environment (`TOKEN_SECRET` and the rest, as a
    /// function reads them): for the operator's tools, which get them from the environment,
    /// never from a command line. `None` if `TOKEN_SECRET` is not set.
    pub fn from_env() -> Result<Option<TokenSecrets>, ConfigError> {
        let get = |name: &str| std::env::var(name).ok();
        TokenSecrets::from_vars(&Vars { var: &get, insecure_provider_urls: false })
    }
}

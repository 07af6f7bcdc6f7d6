//! Reading the named variables: required, optional, flags, URLs, bounded numbers, lists; a
//! value that is present but malformed is an error naming the variable.

use super::ConfigError;

/// Typed access to the variables.
pub(super) struct Vars<'a, F: Fn(&str) -> Option<String>> {
    pub(super) var: &'a F,
    /// `ALLOW_INSECURE_PROVIDER_URLS=true`: provider URLs may be `http://` (the local stack,
    /// the tests and the tools point them at the emulator). Never set in AWS.
    pub(super) insecure_provider_urls: bool,
}

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.var)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    pub(super) fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    /// A provider endpoint: `https://` only, unless `ALLOW_INSECURE_PROVIDER_URLS=true`.
    pub(super) fn url(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let Some(v) = self.get(name) else { return Ok(default.to_string()) };
        let v = url(name, v)?;
        if v.starts_with("https://") || self.insecure_provider_urls {
            Ok(v)
        } else {
            Err(ConfigError::Invalid {
                name,
                reason: "a provider URL must be https:// (http:// only with ALLOW_INSECURE_PROVIDER_URLS=true, for local tools)",
            })
        }
    }

    /// `true`/`false`; unset is `false`.
    pub(super) fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.get(name).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ConfigError::Invalid { name, reason: "expected true or false" }),
        }
    }

    /// An app/client id: letters, digits and `-_.`; `None` when unset.
    pub(super) fn id(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if is_id(&v) => Ok(Some(v)),
            Some(_) => Err(ConfigError::Invalid { name, reason: "letters, digits, '-', '_' and '.' only" }),
        }
    }

    /// A comma-separated list of ids; `None` when unset.
    pub(super) fn id_list(&self, name: &'static str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let ids: Vec<String> = v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if ids.is_empty() || !ids.iter().all(|i| is_id(i)) {
            return Err(ConfigError::Invalid { name, reason: "a comma-separated list of ids" });
        }
        Ok(Some(ids))
    }

    pub(super) fn number(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let n = match self.get(name) {
            None => default,
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid { name, reason: "expected a whole number" })?,
        };
        if range.contains(&n) {
            Ok(n)
        } else {
            Err(ConfigError::Invalid { name, reason: "out of range" })
        }
    }
}

pub(super) fn is_id(v: &str) -> bool {
    v.len() <= 256 && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub(super) fn url(name: &'static str, value: String) -> Result<String, ConfigError> {
    let v = value.trim().trim_end_matches('/').to_string();
    if (v.starts_with("https://") || v.starts_with("http://")) && v.len() > "https://".len() {
        Ok(v)
    } else {
        Err(ConfigError::Invalid { name, reason: "expected an http(s) URL" })
    }
}

pub(super) fn is_graph_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else { return false };
    let mut parts = rest.split('.');
    let ok = |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

//! The ID tokens of the custom issuers: any claims signed as given ([`CustomIssuers::sign`]), or
//! an issuer's defaults with a test's claims merged over them ([`CustomIssuers::issue`]).

use serde_json::{Map, Value};

use super::{merge, CustomIssuers, IssuerError, MICROSOFT};
use crate::oidc::SigningMode;
use crate::util::{now, random_alnum};

/// Lifetime of minted ID tokens.
pub(super) const ID_TOKEN_TTL: i64 = 3600;

impl CustomIssuers {
    /// Signs `claims` exactly as given with the current key of `name`, as `mode` says.
    pub(crate) fn sign(&self, name: &str, claims: &Value, mode: SigningMode) -> Result<String, IssuerError> {
        self.with(name, |issuer, _| issuer.sign(claims, mode))
    }

    /// An ID token of the custom issuer `name` for the audience `aud`: `iss`, `aud`, a random
    /// `sub`, `iat` and `exp` (an hour later), with `claims` merged over them (a `null` removes
    /// one), signed as `mode` says ([`SigningMode::Current`]: a valid token).
    pub(crate) fn issue(
        &self,
        name: &str,
        aud: &str,
        claims: &Value,
        mode: SigningMode,
    ) -> Result<String, IssuerError> {
        if name == MICROSOFT {
            return Err(IssuerError::NotCustom);
        }
        let base = self.base()?;
        self.with(name, |issuer, _| {
            let now = now();
            let mut defaults = Map::new();
            defaults.insert("iss".into(), Value::from(format!("{base}/oidc/{name}")));
            defaults.insert("aud".into(), Value::from(aud));
            defaults.insert("sub".into(), Value::from(random_alnum(24)));
            defaults.insert("iat".into(), Value::from(now));
            defaults.insert("exp".into(), Value::from(now + ID_TOKEN_TTL));
            issuer.sign(&merge(defaults, claims), mode)
        })
    }
}

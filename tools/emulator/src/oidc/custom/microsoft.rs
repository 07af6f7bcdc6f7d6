//! The Microsoft-like multi-tenant issuer's users and tenants: tenant ids (GUIDs, `consumers`
//! for personal accounts), the users created for tests, and their v2.0 ID tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::tokens::ID_TOKEN_TTL;
use super::{merge, CustomIssuers, IssuerError, MICROSOFT};
use crate::oidc::SigningMode;
use crate::util::{lock, now, random_alnum};

/// The tenant id of Microsoft personal accounts (`consumers`), as Microsoft's.
pub const MICROSOFT_CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// One user of the Microsoft-like issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MicrosoftUser {
    /// The object id: the same for every app of the tenant.
    pub oid: String,
    /// The tenant id ([`MICROSOFT_CONSUMER_TENANT`] for personal accounts).
    pub tid: String,
    pub name: String,
    pub preferred_username: String,
    /// The `email` claim, any value (Microsoft does not verify it); `None` leaves it out.
    pub email: Option<String>,
}

/// A GUID as Microsoft writes tenant ids (lowercase hex, 8-4-4-4-12).
pub(crate) fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// A random version-4-shaped GUID.
pub(crate) fn new_guid() -> String {
    let h = hex::encode(rand::random::<[u8; 16]>());
    format!("{}-{}-4{}-a{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// The Microsoft tenant segment of a discovery URL: `common`, `organizations`, `consumers` or
/// a tenant id.
pub(crate) fn microsoft_tenant_known(tenant: &str) -> bool {
    matches!(tenant, "common" | "organizations" | "consumers") || is_guid(tenant)
}

impl CustomIssuers {
    /// A Microsoft user of the tenant `tenant` (a tenant id, or `consumers` / `None` for a
    /// personal account).
    pub(crate) fn create_microsoft_user(
        &self,
        tenant: Option<&str>,
        name: &str,
        preferred_username: &str,
        email: Option<&str>,
    ) -> Result<MicrosoftUser, IssuerError> {
        let tid = match tenant {
            None | Some("consumers") => MICROSOFT_CONSUMER_TENANT.to_string(),
            Some(tid) if is_guid(tid) => tid.to_string(),
            Some(other) => return Err(IssuerError::InvalidTenant(other.to_string())),
        };
        let mut data = lock(&self.data);
        let oid = loop {
            let oid = if tid == MICROSOFT_CONSUMER_TENANT {
                // Personal accounts' oids start with zeros: 00000000-0000-0000-xxxx-xxxxxxxxxxxx.
                let h = hex::encode(rand::random::<[u8; 8]>());
                format!("00000000-0000-0000-{}-{}", &h[..4], &h[4..])
            } else {
                new_guid()
            };
            if !data.microsoft_users.contains_key(&oid) {
                break oid;
            }
        };
        let user = MicrosoftUser {
            oid: oid.clone(),
            tid,
            name: name.to_string(),
            preferred_username: preferred_username.to_string(),
            email: email.map(str::to_string),
        };
        data.microsoft_users.insert(oid, user.clone());
        Ok(user)
    }

    /// Every Microsoft user as `(oid, name)`, by name (the consent page's list).
    pub(crate) fn microsoft_people(&self) -> Vec<(String, String)> {
        let data = lock(&self.data);
        let mut people: Vec<_> = data.microsoft_users.values().map(|u| (u.oid.clone(), u.name.clone())).collect();
        people.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        people
    }

    /// A valid Microsoft v2.0 ID token of the user `oid` for the app `aud`: `iss` with the user's
    /// tenant id, `tid`, `oid`, a pairwise `sub` (per app), `email` (when the user has one),
    /// `preferred_username`, `name`, `nonce` as given, with `claims` merged over them.
    pub(crate) fn issue_microsoft(
        &self,
        oid: &str,
        aud: &str,
        nonce: Option<&str>,
        claims: &Value,
    ) -> Result<String, IssuerError> {
        let base = self.base()?;
        self.with(MICROSOFT, |issuer, data| {
            let user =
                data.microsoft_users.get(oid).cloned().ok_or_else(|| IssuerError::UnknownUser(oid.to_string()))?;
            let now = now();
            let sub_digest = Sha256::new().chain_update(&user.oid).chain_update(b":").chain_update(aud).finalize();
            let mut c = Map::new();
            let mut put = |k: &str, v: Value| {
                c.insert(k.to_string(), v);
            };
            put("ver", Value::from("2.0"));
            put("iss", Value::from(format!("{base}/microsoft/{}/v2.0", user.tid)));
            put("sub", Value::from(URL_SAFE_NO_PAD.encode(sub_digest)));
            put("aud", Value::from(aud));
            put("exp", Value::from(now + ID_TOKEN_TTL));
            put("iat", Value::from(now));
            put("nbf", Value::from(now));
            put("name", Value::from(user.name.as_str()));
            put("preferred_username", Value::from(user.preferred_username.as_str()));
            put("oid", Value::from(user.oid.as_str()));
            if let Some(email) = &user.email {
                put("email", Value::from(email.as_str()));
            }
            put("tid", Value::from(user.tid.as_str()));
            if let Some(nonce) = nonce {
                put("nonce", Value::from(nonce));
            }
            put("aio", Value::from(random_alnum(60)));
            put("uti", Value::from(random_alnum(22)));
            put("rh", Value::from(format!("1.A{}.", random_alnum(40))));
            Ok(issuer.sign(&merge(c, claims), SigningMode::Current))
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants() {
        assert!(is_guid(MICROSOFT_CONSUMER_TENANT));
        assert!(is_guid(&new_guid()));
        assert!(!is_guid("common"));
        assert!(microsoft_tenant_known("organizations"));
        assert!(!microsoft_tenant_known("contoso.onmicrosoft.com"));
    }
}

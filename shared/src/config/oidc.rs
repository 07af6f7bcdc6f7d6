//! OpenID Connect providers' settings: custom providers ([`CustomOidcConfig`]) and the
//! Microsoft preset ([`MicrosoftConfig`]), each part validated when built (issue 31).

/// Microsoft's sign-in authority (tests and the local stack point `MICROSOFT_AUTHORITY_URL` at
/// the emulator): discovery at `{authority}/{tenant}/v2.0/.well-known/openid-configuration`.
pub const DEFAULT_MICROSOFT_AUTHORITY_URL: &str = "https://login.microsoftonline.com";
/// The tenant of Microsoft's personal accounts (`consumers`).
pub const MICROSOFT_CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Why an OpenID Connect provider's configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcConfigError {
    #[error(transparent)]
    Name(#[from] crate::domain::identity::InvalidOidcName),
    #[error("{0}: an https:// URL without query, fragment or user info (http:// only on loopback, and only with ALLOW_INSECURE_PROVIDER_URLS=true)")]
    Url(&'static str),
    #[error("at least one client id (letters, digits, '-', '_', '.')")]
    ClientIds,
    #[error(
        "algorithm {0:?} refused: asymmetric only (RS256/384/512, PS256/384/512, ES256/384, EdDSA); never none or HS*"
    )]
    Algorithm(String),
    #[error("claim name {0:?}: 1 to 64 printable ASCII characters")]
    ClaimName(String),
    #[error("Microsoft tenant {0:?}: common, organizations, consumers or a tenant id (GUID)")]
    Tenant(String),
}

/// Whether provider URLs may be `http://` on loopback (`ALLOW_INSECURE_PROVIDER_URLS=true`: the
/// local stack and the tests, whose emulator listens on 127.0.0.1). Never in AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    pub allow_loopback_http: bool,
}

impl UrlPolicy {
    /// `url` as given (an issuer is compared exactly, trailing `/` included) if it is an
    /// `https://` URL (or `http://` on 127.0.0.1 or localhost where allowed) with a host, and no
    /// query, fragment, user info or whitespace.
    pub fn check(self, what: &'static str, url: &str) -> Result<String, OidcConfigError> {
        let url = url.trim();
        let bad = || OidcConfigError::Url(what);
        let (rest, loopback_only) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => (rest, false),
            (None, Some(rest)) if self.allow_loopback_http => (rest, true),
            _ => return Err(bad()),
        };
        let host_port = rest.split('/').next().unwrap_or_default();
        let host = host_port.rsplit_once(':').map_or(host_port, |(h, port)| {
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                ""
            }
        });
        let clean =
            !url.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || matches!(b, b'?' | b'#' | b'@'));
        let host_ok = !host.is_empty()
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
            && (!loopback_only || host == "127.0.0.1" || host == "localhost");
        if clean && host_ok && url.len() <= 512 {
            Ok(url.to_string())
        } else {
            Err(bad())
        }
    }
}

/// The ID-token signature algorithms an OpenID Connect provider may be configured with:
/// asymmetric only (`none` and `HS*` cannot be expressed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl SigningAlgorithm {
    pub const ALL: [SigningAlgorithm; 9] = [
        SigningAlgorithm::RS256,
        SigningAlgorithm::RS384,
        SigningAlgorithm::RS512,
        SigningAlgorithm::PS256,
        SigningAlgorithm::PS384,
        SigningAlgorithm::PS512,
        SigningAlgorithm::ES256,
        SigningAlgorithm::ES384,
        SigningAlgorithm::EdDSA,
    ];

    /// The JOSE name (`RS256`...).
    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::RS256 => "RS256",
            SigningAlgorithm::RS384 => "RS384",
            SigningAlgorithm::RS512 => "RS512",
            SigningAlgorithm::PS256 => "PS256",
            SigningAlgorithm::PS384 => "PS384",
            SigningAlgorithm::PS512 => "PS512",
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::ES384 => "ES384",
            SigningAlgorithm::EdDSA => "EdDSA",
        }
    }

    /// A JOSE name, exactly; `none`, `HS256` and anything else refused.
    pub fn parse(name: &str) -> Result<SigningAlgorithm, OidcConfigError> {
        SigningAlgorithm::ALL
            .into_iter()
            .find(|a| a.name() == name.trim())
            .ok_or_else(|| OidcConfigError::Algorithm(name.chars().take(16).collect()))
    }
}

/// Where a custom provider's signing keys are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// `jwks_uri` of `{issuer}/.well-known/openid-configuration` (whose `issuer` must be ours).
    Discovery,
    /// This JWKS URL, no discovery.
    Url(String),
}

/// The claims a custom provider's ID token gives the profile in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    pub name: String,
    pub email: String,
    pub picture: String,
}

impl Default for ClaimNames {
    fn default() -> ClaimNames {
        ClaimNames { name: "name".into(), email: "email".into(), picture: "picture".into() }
    }
}

/// A custom OpenID Connect provider: built only through [`CustomOidcConfig::new`] and its
/// `with_*` methods, which validate every part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomOidcConfig {
    pub name: crate::domain::identity::OidcName,
    /// `https://` (see [`UrlPolicy`]); a token's `iss` must equal it exactly.
    pub issuer: String,
    /// Our client ids: an ID token's `aud` must be one of them.
    pub client_ids: Vec<String>,
    pub jwks: JwksSource,
    /// The algorithms the provider's ID tokens may be signed with (RS256 by default).
    pub algorithms: Vec<SigningAlgorithm>,
    pub claims: ClaimNames,
    /// Whether the provider's `email_verified` may link by email (off by default).
    pub trust_email: bool,
}

impl CustomOidcConfig {
    /// A provider `name` (interned: configuration only) with discovery, RS256, the standard
    /// claims and no email trust.
    pub fn new(
        name: &str,
        issuer: &str,
        client_ids: Vec<String>,
        policy: UrlPolicy,
    ) -> Result<CustomOidcConfig, OidcConfigError> {
        let client_ids = client_id_list(client_ids)?;
        Ok(CustomOidcConfig {
            issuer: policy.check("issuer", issuer)?,
            name: crate::domain::identity::OidcName::configured(name)?,
            client_ids,
            jwks: JwksSource::Discovery,
            algorithms: vec![SigningAlgorithm::RS256],
            claims: ClaimNames::default(),
            trust_email: false,
        })
    }

    /// Keys from this JWKS URL instead of discovery.
    pub fn with_jwks_url(mut self, url: &str, policy: UrlPolicy) -> Result<CustomOidcConfig, OidcConfigError> {
        self.jwks = JwksSource::Url(policy.check("jwks_url", url)?);
        Ok(self)
    }

    /// The accepted algorithms by JOSE name (at least one; `none` and `HS*` refused).
    pub fn with_algorithms(mut self, names: &[&str]) -> Result<CustomOidcConfig, OidcConfigError> {
        let mut algorithms = Vec::new();
        for name in names {
            let alg = SigningAlgorithm::parse(name)?;
            if !algorithms.contains(&alg) {
                algorithms.push(alg);
            }
        }
        if algorithms.is_empty() {
            return Err(OidcConfigError::Algorithm(String::new()));
        }
        self.algorithms = algorithms;
        Ok(self)
    }

    /// The claims that give the name, the email and the picture.
    pub fn with_claims(mut self, name: &str, email: &str, picture: &str) -> Result<CustomOidcConfig, OidcConfigError> {
        let check = |c: &str| {
            (!c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_graphic()))
                .then(|| c.to_string())
                .ok_or_else(|| OidcConfigError::ClaimName(c.chars().take(64).collect()))
        };
        self.claims = ClaimNames { name: check(name)?, email: check(email)?, picture: check(picture)? };
        Ok(self)
    }

    /// Trust the provider's `email_verified` for linking by email.
    pub fn with_trust_email(mut self, trust: bool) -> CustomOidcConfig {
        self.trust_email = trust;
        self
    }
}

fn client_id_list(ids: Vec<String>) -> Result<Vec<String>, OidcConfigError> {
    let ids: Vec<String> = ids.into_iter().map(|i| i.trim().to_string()).filter(|i| !i.is_empty()).collect();
    if ids.is_empty() || !ids.iter().all(|i| super::vars::is_id(i)) {
        return Err(OidcConfigError::ClientIds);
    }
    Ok(ids)
}

/// Which Microsoft accounts may sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MicrosoftTenant {
    /// Work, school and personal accounts: any tenant.
    Common,
    /// Work and school accounts: any tenant but the consumer one.
    Organizations,
    /// Personal accounts: the consumer tenant only.
    Consumers,
    /// One tenant (lowercase GUID).
    Tenant(String),
}

impl MicrosoftTenant {
    pub fn parse(v: &str) -> Result<MicrosoftTenant, OidcConfigError> {
        let v = v.trim().to_ascii_lowercase();
        match v.as_str() {
            "common" => Ok(MicrosoftTenant::Common),
            "organizations" => Ok(MicrosoftTenant::Organizations),
            "consumers" => Ok(MicrosoftTenant::Consumers),
            _ if is_guid(&v) => Ok(MicrosoftTenant::Tenant(v)),
            _ => Err(OidcConfigError::Tenant(v.chars().take(64).collect())),
        }
    }

    /// The tenant segment of the authority's URLs.
    pub fn segment(&self) -> &str {
        match self {
            MicrosoftTenant::Common => "common",
            MicrosoftTenant::Organizations => "organizations",
            MicrosoftTenant::Consumers => "consumers",
            MicrosoftTenant::Tenant(id) => id,
        }
    }

    /// Whether a token of tenant `tid` (a verified token's claim) may sign in.
    pub fn admits(&self, tid: &str) -> bool {
        match self {
            MicrosoftTenant::Common => true,
            MicrosoftTenant::Organizations => tid != MICROSOFT_CONSUMER_TENANT,
            MicrosoftTenant::Consumers => tid == MICROSOFT_CONSUMER_TENANT,
            MicrosoftTenant::Tenant(id) => tid == id,
        }
    }
}

/// A tenant id: a GUID, lowercase (`8-4-4-4-12` hex digits).
pub fn is_guid(v: &str) -> bool {
    let groups: Vec<&str> = v.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// The Microsoft preset (`MICROSOFT_CLIENT_IDS`, `MICROSOFT_TENANT`, `MICROSOFT_AUTHORITY_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicrosoftConfig {
    pub tenant: MicrosoftTenant,
    /// Our application (client) ids: an ID token's `aud` must be one of them.
    pub client_ids: Vec<String>,
    /// `https://login.microsoftonline.com` (no trailing `/`).
    pub authority: String,
}

impl MicrosoftConfig {
    pub fn new(
        tenant: &str,
        client_ids: Vec<String>,
        authority: &str,
        policy: UrlPolicy,
    ) -> Result<MicrosoftConfig, OidcConfigError> {
        Ok(MicrosoftConfig {
            tenant: MicrosoftTenant::parse(tenant)?,
            client_ids: client_id_list(client_ids)?,
            authority: policy.check("authority", authority)?.trim_end_matches('/').to_string(),
        })
    }

    /// `{authority}/{tenant}/v2.0/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/{}/v2.0/.well-known/openid-configuration", self.authority, self.tenant.segment())
    }
}

#[cfg(test)]
mod oidc_tests {
    use super::*;

    const LOCAL: UrlPolicy = UrlPolicy { allow_loopback_http: true };
    const AWS: UrlPolicy = UrlPolicy { allow_loopback_http: false };

    #[test]
    fn issuers_are_https_and_loopback_http_only_when_allowed() {
        assert_eq!(
            AWS.check("issuer", "https://idp.example.com/realms/a/").as_deref(),
            Ok("https://idp.example.com/realms/a/")
        );
        assert_eq!(
            LOCAL.check("issuer", "http://127.0.0.1:8080/oidc/a").as_deref(),
            Ok("http://127.0.0.1:8080/oidc/a")
        );
        assert!(LOCAL.check("issuer", "http://localhost/oidc").is_ok());
        for bad in [
            "http://127.0.0.1:8080/oidc/a",
            "http://idp.example.com",
            "https://",
            "https://idp.example.com/?x=1",
            "https://idp.example.com/#f",
            "https://user@idp.example.com",
            "https://idp example.com",
            "ftp://idp.example.com",
        ] {
            assert!(AWS.check("issuer", bad).is_err(), "{bad}");
        }
        for bad in ["http://idp.example.com", "http://127.0.0.1.evil.example", "http://localhost:x/", "http://10.0.0.1"]
        {
            assert!(LOCAL.check("issuer", bad).is_err(), "loopback only: {bad}");
        }
    }

    #[test]
    fn only_asymmetric_algorithms_are_accepted() {
        let c = CustomOidcConfig::new("corp", "https://idp.example.com", vec!["app".into()], AWS).expect("valid");
        assert_eq!(c.algorithms, vec![SigningAlgorithm::RS256]);
        assert!(!c.trust_email && c.jwks == JwksSource::Discovery);
        for bad in ["none", "HS256", "HS384", "HS512", "rs256", "", "RSA-OAEP"] {
            assert!(matches!(c.clone().with_algorithms(&[bad]), Err(OidcConfigError::Algorithm(_))), "{bad}");
        }
        assert!(c.clone().with_algorithms(&[]).is_err());
        let c = c.with_algorithms(&["ES256", "PS256", "ES256", "EdDSA"]).expect("asymmetric");
        assert_eq!(c.algorithms, vec![SigningAlgorithm::ES256, SigningAlgorithm::PS256, SigningAlgorithm::EdDSA]);
        assert!(CustomOidcConfig::new("corp", "https://i.example", vec![], AWS).is_err(), "no client id");
        assert!(CustomOidcConfig::new("corp", "https://i.example", vec!["a b".into()], AWS).is_err());
        assert!(CustomOidcConfig::new("Google", "https://i.example", vec!["a".into()], AWS).is_err());
        assert!(c.clone().with_claims("name", "mail", "").is_err());
        assert!(c.with_jwks_url("http://keys.example", AWS).is_err());
    }

    #[test]
    fn microsoft_tenants() {
        let guid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert_eq!(MicrosoftTenant::parse("Common"), Ok(MicrosoftTenant::Common));
        assert_eq!(MicrosoftTenant::parse(&guid.to_uppercase()), Ok(MicrosoftTenant::Tenant(guid.into())));
        for bad in ["", "contoso.onmicrosoft.com", "72f988bf-86f1-41af-91ab-2d7cd011db4", "../x"] {
            assert!(MicrosoftTenant::parse(bad).is_err(), "{bad}");
        }
        assert!(MicrosoftTenant::Common.admits(MICROSOFT_CONSUMER_TENANT) && MicrosoftTenant::Common.admits(guid));
        assert!(!MicrosoftTenant::Organizations.admits(MICROSOFT_CONSUMER_TENANT));
        assert!(MicrosoftTenant::Organizations.admits(guid));
        assert!(
            MicrosoftTenant::Consumers.admits(MICROSOFT_CONSUMER_TENANT) && !MicrosoftTenant::Consumers.admits(guid)
        );
        let one = MicrosoftTenant::Tenant(guid.into());
        assert!(one.admits(guid) && !one.admits("00000000-0000-0000-0000-000000000000"));
        let c = MicrosoftConfig::new("organizations", vec!["app".into()], DEFAULT_MICROSOFT_AUTHORITY_URL, AWS)
            .expect("valid");
        assert_eq!(
            c.discovery_url(),
            "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"
        );
    }
}

//! What the issuers publish: a custom issuer's discovery document (its overrides merged over it)
//! and JWKS, and the Microsoft-like issuer's discovery document per tenant and its one JWKS.

use serde_json::{json, Map, Value};

use super::{merge, CustomIssuers, IssuerError, MICROSOFT, MICROSOFT_CONSUMER_TENANT};

impl CustomIssuers {
    /// The JWKS of `name`: the current key, then the previous one after a rotation.
    pub(crate) fn jwks(&self, name: &str) -> Result<Value, IssuerError> {
        if name == MICROSOFT {
            return self.microsoft_jwks();
        }
        self.with(name, |issuer, _| {
            let mut extra = Map::new();
            extra.insert("alg".into(), Value::from(issuer.alg.name()));
            issuer.jwks(&extra)
        })
    }

    /// The discovery document of the custom issuer `name`.
    pub(crate) fn discovery(&self, name: &str) -> Result<Value, IssuerError> {
        let base = self.base()?;
        self.with(name, |issuer, _| {
            let info = Self::info(&base, name, issuer);
            let url = &info.issuer;
            let mut doc = json!({
                "issuer": url,
                "authorization_endpoint": format!("{url}/authorize"),
                "token_endpoint": format!("{url}/token"),
                "userinfo_endpoint": format!("{url}/userinfo"),
                "jwks_uri": info.jwks_uri,
                "response_types_supported": ["code", "id_token", "code id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [issuer.alg.name()],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            });
            doc["claims_supported"] = Value::from(
                [
                    "iss",
                    "sub",
                    "aud",
                    "exp",
                    "iat",
                    "nonce",
                    "name",
                    "given_name",
                    "family_name",
                    "email",
                    "email_verified",
                    "picture",
                ]
                .to_vec(),
            );
            if let Value::Object(map) = &doc {
                doc = merge(map.clone(), &Value::Object(issuer.discovery.clone()));
            }
            doc
        })
    }

    /// The Microsoft discovery document for `tenant` (`common`, `organizations`, `consumers` or
    /// a tenant id; the caller checked it with [`super::microsoft_tenant_known`]).
    pub(crate) fn microsoft_discovery(&self, tenant: &str) -> Result<Value, IssuerError> {
        let base = self.base()?;
        let ms = format!("{base}/microsoft");
        let issuer = match tenant {
            "common" | "organizations" => format!("{ms}/{{tenantid}}/v2.0"),
            "consumers" => format!("{ms}/{MICROSOFT_CONSUMER_TENANT}/v2.0"),
            tid => format!("{ms}/{tid}/v2.0"),
        };
        // Built pair by pair: one `json!` this large would hit the macro recursion limit.
        let endpoint = |path: &str| Value::from(format!("{ms}/{tenant}/{path}"));
        let pairs: Vec<(&str, Value)> = vec![
            ("token_endpoint", endpoint("oauth2/v2.0/token")),
            (
                "token_endpoint_auth_methods_supported",
                json!(["client_secret_post", "private_key_jwt", "client_secret_basic"]),
            ),
            ("jwks_uri", endpoint("discovery/v2.0/keys")),
            ("response_modes_supported", json!(["query", "fragment", "form_post"])),
            ("subject_types_supported", json!(["pairwise"])),
            ("id_token_signing_alg_values_supported", json!(["RS256"])),
            ("response_types_supported", json!(["code", "id_token", "code id_token", "id_token token"])),
            ("scopes_supported", json!(["openid", "profile", "email", "offline_access"])),
            ("issuer", Value::from(issuer)),
            ("request_uri_parameter_supported", Value::from(false)),
            ("userinfo_endpoint", Value::from("https://graph.microsoft.com/oidc/userinfo")),
            ("authorization_endpoint", endpoint("oauth2/v2.0/authorize")),
            ("device_authorization_endpoint", endpoint("oauth2/v2.0/devicecode")),
            ("http_logout_supported", Value::from(true)),
            ("frontchannel_logout_supported", Value::from(true)),
            ("end_session_endpoint", endpoint("oauth2/v2.0/logout")),
            (
                "claims_supported",
                Value::from(
                    [
                        "sub",
                        "iss",
                        "cloud_instance_name",
                        "cloud_instance_host_name",
                        "cloud_graph_host_name",
                        "msgraph_host",
                        "aud",
                        "exp",
                        "iat",
                        "auth_time",
                        "acr",
                        "nonce",
                        "preferred_username",
                        "name",
                        "tid",
                        "ver",
                        "at_hash",
                        "c_hash",
                        "email",
                    ]
                    .to_vec(),
                ),
            ),
            ("tenant_region_scope", Value::Null),
            ("cloud_instance_name", Value::from("microsoftonline.com")),
            ("cloud_graph_host_name", Value::from("graph.windows.net")),
            ("msgraph_host", Value::from("graph.microsoft.com")),
            ("rbac_url", Value::from("https://pas.windows.net")),
        ];
        Ok(Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
    }

    /// Microsoft's JWKS (the same for every tenant): each key with `issuer`
    /// `{base}/microsoft/{tenantid}/v2.0`, as Microsoft's keys carry, and no `alg`.
    pub(crate) fn microsoft_jwks(&self) -> Result<Value, IssuerError> {
        let base = self.base()?;
        let mut extra = Map::new();
        extra.insert("issuer".into(), Value::from(format!("{base}/microsoft/{{tenantid}}/v2.0")));
        self.with(MICROSOFT, |issuer, _| issuer.jwks(&extra))
    }
}

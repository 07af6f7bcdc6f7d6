//! Facebook: a user access token is accepted only if Graph confirms it was issued for our app.
//!
//! One round trip: `GET /{version}/me` with the token in the `Authorization` header and
//! `appsecret_proof = HMAC-SHA256(key = our app secret, msg = token)`. Graph checks the proof
//! against the secret of the app the token was issued for, so a token of any other app is
//! refused (error 100), as are invalid, expired and revoked tokens (error 190). Anything the
//! client sends besides the token (Rocket.Chat's `secret`, ids, names) is never used.
//!
//! A Page access token of our app, and our app token `APPID|APPSECRET`, pass that check too, and
//! `/me` then answers the Page or the application. So the same request asks `metadata=1`, and
//! Graph's `metadata.type` must be `user`: anything else is a rejected token, and an answer
//! without it is not trusted.
//!
//! Limited Login (iOS) gives an ID token instead: verified locally against
//! `limited.facebook.com`'s JWKS (RS256, `iss` `https://www.facebook.com`, `aud` our app id),
//! bound to the attempt by the nonce like Apple's.

use serde::Deserialize;

use super::jwks::JwksCache;
use super::oidc::{IdTokenRules, IdTokenVerifier, NonceRule};
use super::{display_name, http_url, send, Credentials, ProviderError};
use crate::config::FacebookConfig;
use crate::domain::identity::{Provider, VerifiedIdentity};
use crate::domain::secret::Secret;
use crate::domain::tokens::hmac_sha256_hex;

const FIELDS: &str = "id,name,email,first_name,last_name,picture.type(large)";
pub const LIMITED_ISSUERS: &[&str] = &["https://www.facebook.com"];

pub struct FacebookVerifier {
    http: reqwest::Client,
    app_id: String,
    app_secret: Secret,
    me_url: String,
    /// `{graph}/{version}`: `DELETE /{user-id}/permissions` goes under it.
    versioned_url: String,
    limited: IdTokenVerifier,
}

/// Claims of a Limited Login ID token.
#[derive(Deserialize)]
struct LimitedClaims {
    name: Option<String>,
    email: Option<String>,
    picture: Option<String>,
}

#[derive(Deserialize)]
struct Me {
    id: String,
    /// Present because we ask `metadata=1`.
    metadata: Option<Metadata>,
    name: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    picture: Option<Picture>,
}

#[derive(Deserialize)]
struct Metadata {
    /// The node `/me` is: `user`, or `page` / `application` for Page and app tokens.
    #[serde(rename = "type")]
    node_type: Option<String>,
}

#[derive(Deserialize)]
struct Picture {
    data: Option<PictureData>,
}

#[derive(Deserialize)]
struct PictureData {
    url: Option<String>,
    #[serde(default)]
    is_silhouette: bool,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    code: Option<i64>,
    error_subcode: Option<i64>,
    #[serde(default)]
    is_transient: bool,
}

impl FacebookVerifier {
    /// The call a returning login starts with ([`super::Providers::certain_call`]): Graph's `/me`
    /// (an access token, what the Syncano clients send).
    pub(crate) fn certain_call(&self) -> (&reqwest::Client, &str) {
        (&self.http, &self.me_url)
    }

    pub fn new(config: &FacebookConfig, http: reqwest::Client, jwks: std::sync::Arc<JwksCache>) -> FacebookVerifier {
        FacebookVerifier {
            limited: IdTokenVerifier::new(
                Provider::Facebook,
                jwks,
                IdTokenRules {
                    issuers: LIMITED_ISSUERS,
                    audiences: vec![config.app_id.clone()],
                    nonce: NonceRule::Sha256OfRaw,
                },
            ),
            http,
            app_id: config.app_id.clone(),
            app_secret: config.app_secret.clone(),
            me_url: format!("{}/{}/me", config.graph_url, config.graph_version),
            versioned_url: format!("{}/{}", config.graph_url, config.graph_version),
        }
    }

    pub async fn verify(&self, creds: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        if let Some(id_token) = &creds.id_token {
            let (sub, c) = self.limited.claims::<LimitedClaims>(id_token, creds.nonce.as_ref()).await?;
            return Ok(VerifiedIdentity {
                provider: Provider::Facebook,
                subject: sub,
                name: c.name.filter(|n| !n.trim().is_empty()),
                email: c.email,
                email_verified: false,
                hosted_domain: None,
                avatar_url: http_url(c.picture),
            });
        }
        let token = creds.require_access_token()?;
        self.verify_access_token(token).await
    }

    pub fn appsecret_proof(&self, token: &Secret) -> String {
        hmac_sha256_hex(self.app_secret.expose(), token.expose())
    }

    /// Withdraws every permission the app-scoped user `subject` gave our app (`DELETE
    /// /{user-id}/permissions` with our app token `{app_id}|{app_secret}`): the person's tokens for
    /// our app stop working and Facebook no longer lists our app as connected. Graph answers
    /// `{"success": true}`. Of its refusals only those about the person count as done
    /// ([`permissions_already_gone`]): 190 with subcode 458 (the person removed the app) and 100
    /// with subcode 33 (no such user of our app). Any other 190 or 100 is about our own request
    /// (Graph answers 190 without a subcode to an app token of a secret it no longer holds, 100 to
    /// an `appsecret_proof` of one): `Unavailable`, so the withdrawal is retried, never dropped.
    pub async fn delete_permissions(&self, subject: &str) -> Result<(), ProviderError> {
        if subject.is_empty() || !subject.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProviderError::Rejected("not an app-scoped user id".into()));
        }
        let app_token = Secret::new(format!("{}|{}", self.app_id, self.app_secret.expose()));
        let proof = self.appsecret_proof(&app_token);
        let url = format!("{}/{subject}/permissions", self.versioned_url);
        let (status, body) =
            send(self.http.delete(&url).query(&[("appsecret_proof", proof.as_str())]).bearer_auth(app_token.expose()))
                .await?;
        if status.is_success() || permissions_already_gone(&body) {
            return Ok(());
        }
        match classify_error(status, &body) {
            // Our app token, our proof or our app's rights refused: the configuration is wrong
            // (a reset app secret not deployed yet), not the person's state. Kept for retry.
            ProviderError::Rejected(why) => {
                Err(ProviderError::Unavailable(format!("{why}: our app token was refused; is the app secret current?")))
            }
            other => Err(other),
        }
    }

    async fn verify_access_token(&self, token: &Secret) -> Result<VerifiedIdentity, ProviderError> {
        if is_encoded_json_object(token.expose()) {
            return Err(ProviderError::Rejected("the access token is an encoded JSON object".into()));
        }
        let proof = self.appsecret_proof(token);
        let (status, body) = send(
            self.http
                .get(&self.me_url)
                .query(&[("fields", FIELDS), ("metadata", "1"), ("appsecret_proof", proof.as_str())])
                .bearer_auth(token.expose()),
        )
        .await?;
        if status.is_success() {
            return identity_from_me(&body);
        }
        Err(classify_error(status, &body))
    }
}

/// Whether `token` is base64 (either alphabet, padded or not) of a JSON object. Our
/// `appsecret_proof` is `HMAC-SHA256(app secret, token)`, and a `signed_request`'s signature is
/// `HMAC-SHA256(app secret, payload)` over the base64url JSON payload: computing a proof for such
/// a "token" would sign a callback payload of the caller's choosing. No Facebook access token
/// decodes to JSON (they are opaque `EAA…` strings), so these are refused before any proof is
/// computed.
fn is_encoded_json_object(token: &str) -> bool {
    use base64::engine::general_purpose::GeneralPurpose;
    use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
    use base64::{alphabet, Engine};
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
    let decoded = URL_SAFE.decode(token).or_else(|_| STANDARD.decode(token));
    decoded.is_ok_and(|bytes| bytes.trim_ascii_start().first() == Some(&b'{'))
}

pub(crate) fn identity_from_me(body: &[u8]) -> Result<VerifiedIdentity, ProviderError> {
    let me: Me =
        serde_json::from_slice(body).map_err(|_| ProviderError::BadResponse("/me is not the expected JSON".into()))?;
    match me.metadata.and_then(|m| m.node_type).as_deref() {
        Some("user") => {}
        Some("page") => return Err(ProviderError::Rejected("a Page access token is not a user's".into())),
        Some("application") => return Err(ProviderError::Rejected("an app access token is not a user's".into())),
        Some(_) => return Err(ProviderError::Rejected("/me is not a user".into())),
        None => return Err(ProviderError::BadResponse("/me has no metadata.type".into())),
    }
    if me.id.is_empty() || !me.id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProviderError::BadResponse("/me has no numeric id".into()));
    }
    let name = me
        .name
        .filter(|n| !n.trim().is_empty())
        .or_else(|| display_name(&[me.first_name.as_deref(), me.last_name.as_deref()]));
    let avatar_url = http_url(me.picture.and_then(|p| p.data).filter(|d| !d.is_silhouette).and_then(|d| d.url));
    Ok(VerifiedIdentity {
        provider: Provider::Facebook,
        subject: me.id,
        name,
        email: me.email.filter(|e| e.contains('@')),
        // Graph documents no verification flag for `email`: never vouch for it.
        email_verified: false,
        hosted_domain: None,
        avatar_url,
    })
}

/// Whether a Graph error says there is nothing of the person left to withdraw: 190 with subcode
/// 458 ("App Not Installed": the person removed the app) or 100 with subcode 33 (no such object:
/// not a user of our app, or the account is gone). Decided by code and subcode only, never by
/// the message.
pub(crate) fn permissions_already_gone(body: &[u8]) -> bool {
    let Ok(GraphErrorBody { error }) = serde_json::from_slice::<GraphErrorBody>(body) else { return false };
    matches!((error.code, error.error_subcode), (Some(190), Some(458)) | (Some(100), Some(33)))
}

/// Maps a Graph error answer to a failure class. Graph's codes: 190 invalid/expired/revoked token,
/// 102 session, 100 invalid parameter (the appsecret_proof of a token of another app), 10 and
/// 200-299 permissions, 2500 no token; 1, 2, 4, 17, 32, 341, 613 and `is_transient` are outages
/// or rate limits on Facebook's side.
pub(crate) fn classify_error(status: reqwest::StatusCode, body: &[u8]) -> ProviderError {
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return ProviderError::Unavailable(format!("graph answered {status}"));
    }
    let Ok(GraphErrorBody { error }) = serde_json::from_slice::<GraphErrorBody>(body) else {
        return ProviderError::BadResponse(format!("graph answered {status} without an error object"));
    };
    let code = error.code.unwrap_or(0);
    let sub = error.error_subcode.unwrap_or(0);
    match code {
        1 | 2 | 4 | 17 | 32 | 341 | 613 => ProviderError::Unavailable(format!("graph error code {code}")),
        _ if error.is_transient => ProviderError::Unavailable(format!("graph transient error code {code}")),
        100 | 102 | 190 | 2500 | 10 | 200..=299 => ProviderError::Rejected(format!("graph error code {code}/{sub}")),
        _ if status.is_client_error() => ProviderError::Rejected(format!("graph error code {code}/{sub}")),
        _ => ProviderError::BadResponse(format!("graph answered {status} with code {code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use std::time::Duration;

    #[test]
    fn me_becomes_an_identity_without_trusting_the_email() {
        let id = identity_from_me(
            br#"{"id":"10158","name":"Rocket Cat","email":"cat@example.com",
                 "picture":{"data":{"url":"https://x.test/p.jpg","is_silhouette":false}},
                 "metadata":{"type":"user","fields":[{"name":"id"}]}}"#,
        )
        .expect("identity");
        assert_eq!(id.subject, "10158");
        assert_eq!(id.name.as_deref(), Some("Rocket Cat"));
        assert_eq!(id.email.as_deref(), Some("cat@example.com"));
        assert!(!id.email_verified);
        assert_eq!(id.avatar_url.as_deref(), Some("https://x.test/p.jpg"));
    }

    #[test]
    fn name_falls_back_to_first_and_last_and_silhouettes_are_no_avatar() {
        let id = identity_from_me(
            br#"{"id":"1","first_name":"Rocket","last_name":"Cat","picture":{"data":{"url":"https://x.test/s.jpg","is_silhouette":true}},"metadata":{"type":"user"}}"#,
        )
        .expect("identity");
        assert_eq!(id.name.as_deref(), Some("Rocket Cat"));
        assert_eq!(id.avatar_url, None);
    }

    #[test]
    fn unreadable_me_is_a_bad_response_not_a_rejection() {
        for body in [
            &b"<html>"[..],
            br#"{"name":"x","metadata":{"type":"user"}}"#,
            br#"{"id":"","metadata":{"type":"user"}}"#,
            br#"{"id":"12; drop","metadata":{"type":"user"}}"#,
            // We ask metadata=1: an answer without its type is not trusted.
            br#"{"id":"1","name":"x"}"#,
            br#"{"id":"1","name":"x","metadata":{}}"#,
        ] {
            assert!(matches!(identity_from_me(body), Err(ProviderError::BadResponse(_))), "{body:?}");
        }
    }

    #[test]
    fn a_page_or_an_application_as_me_is_a_rejected_token() {
        for kind in ["page", "application", "group", "User"] {
            let body = format!(r#"{{"id":"104729384756","name":"Our Brand","metadata":{{"type":"{kind}"}}}}"#);
            assert!(matches!(identity_from_me(body.as_bytes()), Err(ProviderError::Rejected(_))), "{kind}");
        }
    }

    #[test]
    fn graph_errors_are_classified() {
        let rejected = |s: u16, b: &str| {
            matches!(classify_error(StatusCode::from_u16(s).unwrap(), b.as_bytes()), ProviderError::Rejected(_))
        };
        let unavailable = |s: u16, b: &str| {
            matches!(classify_error(StatusCode::from_u16(s).unwrap(), b.as_bytes()), ProviderError::Unavailable(_))
        };
        assert!(rejected(
            400,
            r#"{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}}"#
        ));
        assert!(rejected(400, r#"{"error":{"code":190,"error_subcode":463}}"#));
        assert!(rejected(
            400,
            r#"{"error":{"message":"Invalid appsecret_proof provided in the API argument","code":100}}"#
        ));
        assert!(rejected(400, r#"{"error":{"code":2500}}"#));
        assert!(unavailable(500, r#"{"error":{"code":2,"is_transient":true}}"#));
        assert!(unavailable(503, "down"));
        assert!(unavailable(
            403,
            r#"{"error":{"message":"(#4) Application request limit reached","code":4,"is_transient":true}}"#
        ));
        assert!(unavailable(400, r#"{"error":{"code":1}}"#));
        assert!(matches!(classify_error(StatusCode::BAD_REQUEST, b"nope"), ProviderError::BadResponse(_)));
    }

    #[test]
    fn tokens_that_decode_to_a_json_object_are_recognised() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        use base64::Engine;
        let payload = br#"{"algorithm":"HMAC-SHA256","issued_at":1700000000,"user_id":"1"}"#;
        for encoded in [URL_SAFE_NO_PAD.encode(payload), URL_SAFE.encode(payload), STANDARD.encode(payload)] {
            assert!(is_encoded_json_object(&encoded), "{encoded}");
        }
        assert!(is_encoded_json_object(&URL_SAFE_NO_PAD.encode(b" \n{}")));
        // Opaque tokens, as Facebook issues them, and what merely looks like base64.
        for token in ["EAAGm0PX4ZCpsBAKZCZBZAZA", "local-token-abc", "", "e30", "W10", "not base64!"] {
            assert_eq!(is_encoded_json_object(token), token == "e30", "{token}");
        }
    }

    #[test]
    fn only_the_persons_own_state_means_the_permissions_are_gone() {
        // The person removed the app; not a user of our app (any more).
        assert!(permissions_already_gone(
            br#"{"error":{"message":"Error validating access token: The user has not authorized application 1.","type":"OAuthException","code":190,"error_subcode":458}}"#
        ));
        assert!(permissions_already_gone(
            br#"{"error":{"type":"GraphMethodException","code":100,"error_subcode":33}}"#
        ));
        // Our app token or proof refused (a reset app secret), an expired token, a permission
        // error, an outage: not done.
        for body in [
            r#"{"error":{"message":"Invalid OAuth access token signature.","type":"OAuthException","code":190}}"#,
            r#"{"error":{"message":"Invalid appsecret_proof provided in the API argument","type":"GraphMethodException","code":100}}"#,
            r#"{"error":{"code":190,"error_subcode":460}}"#,
            r#"{"error":{"code":190,"error_subcode":463}}"#,
            r#"{"error":{"code":200}}"#,
            r#"{"error":{"code":2,"is_transient":true}}"#,
            "<html>",
        ] {
            assert!(!permissions_already_gone(body.as_bytes()), "{body}");
        }
    }

    #[test]
    fn appsecret_proof_is_hmac_of_the_token_under_our_secret() {
        let cfg = FacebookConfig {
            app_id: "1".into(),
            app_secret: Secret::new("Jefe"),
            graph_url: "http://127.0.0.1:1".into(),
            graph_version: "v22.0".into(),
            limited_jwks_url: "http://127.0.0.1:1/jwks".into(),
        };
        let v = FacebookVerifier::new(
            &cfg,
            reqwest::Client::new(),
            std::sync::Arc::new(JwksCache::new(
                reqwest::Client::new(),
                "http://127.0.0.1:1/jwks",
                super::super::jwks::JwksSettings { min_refetch: Duration::from_secs(1), max_stale: Duration::ZERO },
            )),
        );
        assert_eq!(
            v.appsecret_proof(&Secret::new("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

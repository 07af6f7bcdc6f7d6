//! Twitter/X: the user's token is accepted only if X answers for it in our app's name.
//!
//! Two kinds of user token, one round trip each:
//!
//! - **OAuth 1.0a** (`access_token` + `token_secret`): `GET /1.1/account/verify_credentials.json
//!   ?include_email=true&skip_status=true`, signed (HMAC-SHA1) with OUR consumer key and secret
//!   together with the user's token and token secret. X checks the signature against the
//!   consumer the token was issued to, so a token of any other app is refused (code 32), as are
//!   invalid and revoked tokens (code 89). `email` is present only when our app has the email
//!   permission and the user has a confirmed address (X returns verified addresses only), so it
//!   counts as verified.
//! - **OAuth 2.0 user bearer token** (`access_token` alone): `GET /2/users/me`. Such a token is
//!   bound to the app (client id) that issued it, but X offers **no audience check**: nothing in
//!   the request or the answer says which app it was issued to, so a valid user token of *any*
//!   X app would be accepted. Hence they are refused (fail closed) unless the deployment opts in
//!   with `TWITTER_ACCEPT_OAUTH2_BEARER=true`. `/2/users/me` gives no email.
//!
//! A wrong consumer key or secret of ours also shows up as code 32 — X does not tell the two
//! apart — so a misconfigured deployment rejects every OAuth 1.0a login (401), not 502.

use oauth1_request as oauth;
use serde::Deserialize;

use super::{display_name, http_url, is_header_safe, outage, parse_json, send, Credentials, ProviderError};
use crate::config::TwitterConfig;
use crate::domain::identity::{Provider, VerifiedIdentity};
use crate::domain::secret::Secret;

/// The query of the OAuth 1.0a call, sorted by name (as the signature's parameter list must be).
const VERIFY_QUERY: [(&str, &str); 2] = [("include_email", "true"), ("skip_status", "true")];

pub struct TwitterVerifier {
    http: reqwest::Client,
    accept_oauth2_bearer: bool,
    consumer_key: String,
    consumer_secret: Secret,
    /// `{api_url}/1.1/account/verify_credentials.json`, without query: the signed base URI.
    verify_credentials_url: String,
    /// `{api_url}/2/users/me`.
    users_me_url: String,
}

/// `GET /1.1/account/verify_credentials.json`.
#[derive(Deserialize)]
struct V1User {
    id_str: String,
    name: Option<String>,
    screen_name: Option<String>,
    email: Option<String>,
    profile_image_url_https: Option<String>,
    #[serde(default)]
    default_profile_image: bool,
}

/// `GET /2/users/me`: `{"data": {...}}` (or, on partial failure, `{"errors": [...]}` only).
#[derive(Deserialize)]
struct V2Me {
    data: Option<V2User>,
}

#[derive(Deserialize)]
struct V2User {
    id: String,
    name: Option<String>,
    username: Option<String>,
    profile_image_url: Option<String>,
}

/// v1.1 errors: `{"errors": [{"code": 89, "message": "..."}]}`.
#[derive(Deserialize)]
struct V1Errors {
    errors: Vec<V1Error>,
}

#[derive(Deserialize)]
struct V1Error {
    code: Option<i64>,
}

/// v2 errors (RFC 7807 problem details): `{"title", "type", "status", "detail", "reason"?}`.
#[derive(Deserialize)]
struct V2Problem {
    title: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    reason: Option<String>,
}

impl TwitterVerifier {
    /// The call a returning login starts with ([`super::Providers::certain_call`]): `verify_credentials`
    /// (an OAuth 1.0a token; a bearer token goes to `/2/users/me` on the same host).
    pub(crate) fn certain_call(&self) -> (&reqwest::Client, &str) {
        (&self.http, &self.verify_credentials_url)
    }

    pub fn new(config: &TwitterConfig, http: reqwest::Client) -> TwitterVerifier {
        let base = config.api_url.trim_end_matches('/');
        TwitterVerifier {
            http,
            accept_oauth2_bearer: config.accept_oauth2_bearer,
            consumer_key: config.consumer_key.clone(),
            consumer_secret: config.consumer_secret.clone(),
            verify_credentials_url: format!("{base}/1.1/account/verify_credentials.json"),
            users_me_url: format!("{base}/2/users/me"),
        }
    }

    pub async fn verify(&self, creds: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        let token = creds.require_access_token()?;
        match &creds.token_secret {
            Some(secret) if secret.expose().trim().is_empty() => Err(ProviderError::MissingCredential("token_secret")),
            Some(secret) => self.verify_oauth1(token, secret).await,
            None if self.accept_oauth2_bearer => self.verify_oauth2(token).await,
            None => Err(ProviderError::MissingCredential("token_secret")),
        }
    }

    /// The `Authorization: OAuth ...` header value for `GET verify_credentials` (fresh nonce and
    /// timestamp on every call).
    fn oauth1_authorization(&self, token: &Secret, token_secret: &Secret) -> String {
        let credentials = oauth::Token::from_parts(
            self.consumer_key.as_str(),
            self.consumer_secret.expose(),
            token.expose(),
            token_secret.expose(),
        );
        let request = oauth::ParameterList::new(VERIFY_QUERY);
        oauth::get(&self.verify_credentials_url, &request, &credentials, oauth::HMAC_SHA1)
    }

    async fn verify_oauth1(&self, token: &Secret, token_secret: &Secret) -> Result<VerifiedIdentity, ProviderError> {
        let authorization = self.oauth1_authorization(token, token_secret);
        let url = oauth::to_query(self.verify_credentials_url.clone(), &oauth::ParameterList::new(VERIFY_QUERY));
        let (status, body) = send(self.http.get(url).header(reqwest::header::AUTHORIZATION, authorization)).await?;
        if status == reqwest::StatusCode::OK {
            return identity_from_v1(&body);
        }
        Err(classify_v1_error(status, &body))
    }

    async fn verify_oauth2(&self, token: &Secret) -> Result<VerifiedIdentity, ProviderError> {
        if !is_header_safe(token.expose()) {
            // Could not even be sent as a header value: not a token X issued.
            return Err(ProviderError::Rejected("twitter: malformed bearer token".into()));
        }
        let req = self
            .http
            .get(&self.users_me_url)
            .query(&[("user.fields", "profile_image_url")])
            .bearer_auth(token.expose());
        let (status, body) = send(req).await?;
        if status == reqwest::StatusCode::OK {
            return identity_from_v2(&body);
        }
        Err(classify_v2_error(status, &body))
    }
}

fn numeric_id(id: &str, what: &str) -> Result<(), ProviderError> {
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProviderError::BadResponse(format!("{what} has no numeric user id")));
    }
    Ok(())
}

pub(crate) fn identity_from_v1(body: &[u8]) -> Result<VerifiedIdentity, ProviderError> {
    let user: V1User = parse_json(body, "verify_credentials")?;
    numeric_id(&user.id_str, "verify_credentials")?;
    let email = user.email.map(|e| e.trim().to_string()).filter(|e| e.contains('@'));
    Ok(VerifiedIdentity {
        provider: Provider::Twitter,
        name: display_name(&[user.name.as_deref()]).or_else(|| display_name(&[user.screen_name.as_deref()])),
        // X returns only confirmed addresses here.
        email_verified: email.is_some(),
        hosted_domain: None,
        email,
        avatar_url: if user.default_profile_image { None } else { http_url(user.profile_image_url_https) },
        subject: user.id_str,
    })
}

pub(crate) fn identity_from_v2(body: &[u8]) -> Result<VerifiedIdentity, ProviderError> {
    let me: V2Me = parse_json(body, "/2/users/me")?;
    let user = me.data.ok_or_else(|| ProviderError::BadResponse("/2/users/me has no data".into()))?;
    numeric_id(&user.id, "/2/users/me")?;
    Ok(VerifiedIdentity {
        provider: Provider::Twitter,
        name: display_name(&[user.name.as_deref()]).or_else(|| display_name(&[user.username.as_deref()])),
        email: None,
        email_verified: false,
        hosted_domain: None,
        avatar_url: http_url(user.profile_image_url),
        subject: user.id,
    })
}

/// Maps a v1.1 error answer to a failure class. X's codes: 32 could not authenticate (bad
/// signature, token of another app), 89 invalid or expired token, 64 suspended, 326 locked,
/// 99/215 bad authentication data → the token is refused; 88 rate limit, 130 over capacity,
/// 131 internal error → outage; 416 our app suspended, 453 our access level → our side.
pub(crate) fn classify_v1_error(status: reqwest::StatusCode, body: &[u8]) -> ProviderError {
    let code = serde_json::from_slice::<V1Errors>(body).ok().and_then(|e| e.errors.into_iter().find_map(|e| e.code));
    if let Some(out) = outage(status) {
        return out;
    }
    match (status.as_u16(), code) {
        (_, Some(c @ (88 | 130 | 131))) => ProviderError::Unavailable(format!("twitter error code {c}")),
        (_, Some(c @ (416 | 453))) => ProviderError::Unavailable(format!("twitter refuses our app (code {c})")),
        (400 | 401 | 403, Some(c)) => ProviderError::Rejected(format!("twitter error code {c}")),
        (401, None) => ProviderError::Rejected("twitter answered 401".into()),
        _ => ProviderError::BadResponse(format!("twitter answered {status}")),
    }
}

/// Maps a v2 error answer to a failure class: 401 (invalid, expired or revoked token) and 403
/// "Unsupported Authentication" (an app-only token) refuse the token; 403 `client-not-enrolled`
/// is our app's access level; 429/5xx are outages.
pub(crate) fn classify_v2_error(status: reqwest::StatusCode, body: &[u8]) -> ProviderError {
    if let Some(out) = outage(status) {
        return out;
    }
    let problem = serde_json::from_slice::<V2Problem>(body).ok();
    match status.as_u16() {
        401 => ProviderError::Rejected("twitter v2 answered 401".into()),
        403 => match problem {
            Some(p) if p.reason.as_deref() == Some("client-not-enrolled") => {
                ProviderError::Unavailable("twitter refuses our app (client-not-enrolled)".into())
            }
            Some(p) if p.title.is_some() || p.kind.is_some() => {
                ProviderError::Rejected("twitter v2 answered 403".into())
            }
            _ => ProviderError::BadResponse("twitter v2 answered 403 without a problem object".into()),
        },
        400 if problem.is_some_and(|p| p.title.is_some()) => ProviderError::Rejected("twitter v2 answered 400".into()),
        _ => ProviderError::BadResponse(format!("twitter v2 answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn verifier() -> TwitterVerifier {
        TwitterVerifier::new(
            &TwitterConfig {
                consumer_key: "xvz1evFS4wEEPTGEFPHBog".into(),
                consumer_secret: Secret::new("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
                api_url: "https://api.twitter.com/".into(),
                accept_oauth2_bearer: true,
            },
            reqwest::Client::new(),
        )
    }

    #[test]
    fn urls_are_built_on_the_api_url() {
        let v = verifier();
        assert_eq!(v.verify_credentials_url, "https://api.twitter.com/1.1/account/verify_credentials.json");
        assert_eq!(v.users_me_url, "https://api.twitter.com/2/users/me");
    }

    /// Parses `OAuth k="v", ...` into sorted (key, percent-decoded value) pairs.
    fn header_params(header: &str) -> Vec<(String, String)> {
        let rest = header.strip_prefix("OAuth ").expect("OAuth scheme");
        let mut params: Vec<(String, String)> = rest
            .split(',')
            .map(|kv| {
                let (k, v) = kv.trim().split_once('=').expect("k=v");
                let v = v.trim_matches('"');
                let decoded = percent_decode(v);
                (k.to_string(), decoded)
            })
            .collect();
        params.sort();
        params
    }

    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex"));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn oauth1_header_is_signed_with_our_consumer_and_the_users_token() {
        let v = verifier();
        let header = v.oauth1_authorization(
            &Secret::new("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
            &Secret::new("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"),
        );
        let params = header_params(&header);
        let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("oauth_consumer_key"), Some("xvz1evFS4wEEPTGEFPHBog"));
        assert_eq!(get("oauth_token"), Some("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"));
        assert_eq!(get("oauth_signature_method"), Some("HMAC-SHA1"));
        assert!(get("oauth_nonce").is_some_and(|n| !n.is_empty()));
        assert!(get("oauth_timestamp").is_some_and(|t| t.parse::<u64>().is_ok()));
        // An HMAC-SHA1 is 20 bytes: 28 base64 characters.
        assert_eq!(get("oauth_signature").map(str::len), Some(28));
        // The secrets themselves never travel.
        assert!(!header.contains("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"));
        assert!(!header.contains("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"));
        // A fresh nonce each time.
        let again = header_params(&v.oauth1_authorization(&Secret::new("t"), &Secret::new("s")));
        assert_ne!(get("oauth_nonce"), again.iter().find(|(k, _)| k == "oauth_nonce").map(|(_, v)| v.as_str()));
    }

    /// The signature the library computes is RFC 5849's, checked against the example of X's
    /// "Creating a signature" guide (known nonce, timestamp and expected signature).
    #[test]
    fn signature_matches_the_documented_example() {
        let token = oauth::Token::from_parts(
            "xvz1evFS4wEEPTGEFPHBog",
            "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
            "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        );
        let request = oauth::ParameterList::new([
            ("include_entities", "true"),
            ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
        ]);
        let mut builder = oauth::Builder::with_token(token, oauth::HMAC_SHA1);
        builder.nonce("kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg").timestamp(std::num::NonZeroU64::new(1318622958));
        builder.version(true);
        let header = builder.post("https://api.twitter.com/1.1/statuses/update.json", &request);
        let params = header_params(&header);
        let signature = params.iter().find(|(k, _)| k == "oauth_signature").map(|(_, v)| v.as_str());
        assert_eq!(signature, Some("hCtSmYh+iHYCEqBWrE7C7hYmtUk="));
    }

    #[test]
    fn verify_credentials_becomes_an_identity_with_a_verified_email() {
        let id = identity_from_v1(
            br#"{"id":2244994945,"id_str":"2244994945","name":"X Dev","screen_name":"XDevelopers",
                 "email":"dev@example.com","profile_image_url_https":"https://pbs.twimg.com/p_normal.jpg",
                 "default_profile_image":false,"verified":false}"#,
        )
        .expect("identity");
        assert_eq!(id.provider, Provider::Twitter);
        assert_eq!(id.subject, "2244994945");
        assert_eq!(id.name.as_deref(), Some("X Dev"));
        assert_eq!(id.email.as_deref(), Some("dev@example.com"));
        assert!(id.email_verified);
        assert_eq!(id.avatar_url.as_deref(), Some("https://pbs.twimg.com/p_normal.jpg"));
    }

    #[test]
    fn no_email_is_not_verified_and_name_falls_back_to_screen_name() {
        for email in [r#""email":null,"#, "", r#""email":"","#] {
            let body = format!(
                r#"{{"id_str":"12",{email}"name":"  ","screen_name":"jack","profile_image_url_https":"https://x.test/d.png","default_profile_image":true}}"#
            );
            let id = identity_from_v1(body.as_bytes()).expect("identity");
            assert_eq!(id.email, None);
            assert!(!id.email_verified);
            assert_eq!(id.name.as_deref(), Some("jack"));
            assert_eq!(id.avatar_url, None, "the default egg is no avatar");
        }
    }

    #[test]
    fn users_me_becomes_an_identity_without_email() {
        let id = identity_from_v2(
            br#"{"data":{"id":"2244994945","name":"X Dev","username":"XDevelopers",
                 "profile_image_url":"https://pbs.twimg.com/p_normal.jpg"}}"#,
        )
        .expect("identity");
        assert_eq!(id.subject, "2244994945");
        assert_eq!(id.name.as_deref(), Some("X Dev"));
        assert_eq!(id.email, None);
        assert!(!id.email_verified);
        assert_eq!(id.avatar_url.as_deref(), Some("https://pbs.twimg.com/p_normal.jpg"));
        let id = identity_from_v2(br#"{"data":{"id":"7","username":"jack","profile_image_url":"javascript:x"}}"#)
            .expect("identity");
        assert_eq!(id.name.as_deref(), Some("jack"));
        assert_eq!(id.avatar_url, None);
    }

    #[test]
    fn unreadable_answers_are_bad_responses_not_rejections() {
        for body in [&b"<html>"[..], br#"{"name":"x"}"#, br#"{"id_str":""}"#, br#"{"id_str":"12; drop"}"#] {
            assert!(matches!(identity_from_v1(body), Err(ProviderError::BadResponse(_))));
        }
        for body in [
            &b"<html>"[..],
            br#"{"errors":[{"title":"Not Found Error"}]}"#,
            br#"{"data":{"id":"abc"}}"#,
            br#"{"data":{"name":"x"}}"#,
        ] {
            assert!(matches!(identity_from_v2(body), Err(ProviderError::BadResponse(_))));
        }
    }

    fn status(s: u16) -> StatusCode {
        StatusCode::from_u16(s).unwrap()
    }

    #[test]
    fn v1_errors_are_classified() {
        let rejected =
            |s: u16, b: &str| matches!(classify_v1_error(status(s), b.as_bytes()), ProviderError::Rejected(_));
        let unavailable =
            |s: u16, b: &str| matches!(classify_v1_error(status(s), b.as_bytes()), ProviderError::Unavailable(_));
        assert!(rejected(401, r#"{"errors":[{"code":89,"message":"Invalid or expired token."}]}"#));
        assert!(rejected(401, r#"{"errors":[{"code":32,"message":"Could not authenticate you."}]}"#));
        assert!(rejected(403, r#"{"errors":[{"code":64,"message":"Your account is suspended"}]}"#));
        assert!(rejected(400, r#"{"errors":[{"code":215,"message":"Bad Authentication data."}]}"#));
        assert!(rejected(401, ""));
        assert!(unavailable(429, r#"{"errors":[{"code":88,"message":"Rate limit exceeded"}]}"#));
        assert!(unavailable(503, r#"{"errors":[{"code":130,"message":"Over capacity"}]}"#));
        assert!(unavailable(500, "oops"));
        assert!(unavailable(403, r#"{"errors":[{"code":453,"message":"You currently have access to a subset"}]}"#));
        assert!(matches!(classify_v1_error(status(404), b"<html>"), ProviderError::BadResponse(_)));
        assert!(matches!(classify_v1_error(status(302), b""), ProviderError::BadResponse(_)));
        assert!(matches!(classify_v1_error(status(403), b"nope"), ProviderError::BadResponse(_)));
    }

    #[test]
    fn v2_errors_are_classified() {
        let class = |s: u16, b: &str| classify_v2_error(status(s), b.as_bytes());
        assert!(matches!(
            class(401, r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#),
            ProviderError::Rejected(_)
        ));
        assert!(matches!(
            class(
                403,
                r#"{"title":"Unsupported Authentication","detail":"Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.","type":"https://api.twitter.com/2/problems/unsupported-authentication","status":403}"#
            ),
            ProviderError::Rejected(_)
        ));
        assert!(matches!(
            class(
                403,
                r#"{"client_id":"1","reason":"client-not-enrolled","title":"Client Forbidden","type":"https://api.twitter.com/2/problems/client-forbidden"}"#
            ),
            ProviderError::Unavailable(_)
        ));
        assert!(matches!(class(429, r#"{"title":"Too Many Requests"}"#), ProviderError::Unavailable(_)));
        assert!(matches!(class(502, ""), ProviderError::Unavailable(_)));
        assert!(matches!(class(404, "<html>"), ProviderError::BadResponse(_)));
    }

    #[test]
    fn errors_never_carry_the_body_text() {
        let e = classify_v1_error(status(401), br#"{"errors":[{"code":89,"message":"token SECRETVALUE"}]}"#);
        assert!(!e.to_string().contains("SECRETVALUE"));
    }

    #[tokio::test]
    async fn missing_or_blank_credentials_are_named_without_a_request() {
        let v = verifier();
        let none = Credentials::default();
        assert!(matches!(v.verify(&none).await, Err(ProviderError::MissingCredential("access_token"))));
        let blank = Credentials { access_token: Some(Secret::new(" ")), ..Credentials::default() };
        assert!(matches!(v.verify(&blank).await, Err(ProviderError::MissingCredential("access_token"))));
        let blank_secret = Credentials {
            access_token: Some(Secret::new("t")),
            token_secret: Some(Secret::new("")),
            ..Credentials::default()
        };
        assert!(matches!(v.verify(&blank_secret).await, Err(ProviderError::MissingCredential("token_secret"))));
        let only_secret = Credentials { token_secret: Some(Secret::new("s")), ..Credentials::default() };
        assert!(matches!(v.verify(&only_secret).await, Err(ProviderError::MissingCredential("access_token"))));
        let garbage = Credentials { access_token: Some(Secret::new("a b\n")), ..Credentials::default() };
        assert!(matches!(v.verify(&garbage).await, Err(ProviderError::Rejected(_))));
    }
}

//! GitHub: a user access token is accepted only if GitHub confirms it was issued to our OAuth app.
//!
//! 1. `POST /applications/{client_id}/token` with our client id and secret (basic auth) and the
//!    token in the JSON body. GitHub answers 200 with the token's app and user only for a valid
//!    token of *this* app; a token of any other app, or an invalid, expired or revoked one, is
//!    404 (422 for a malformed body). A 401 means our own client id/secret are wrong: that is
//!    our misconfiguration, never the client's fault, so it is an outage, not a rejection. The
//!    answer's `app.client_id` must be ours as well.
//! 2. `GET /user/emails` with the token, for the primary verified address, only when the identity
//!    is new (a returning login has its user already, so it costs one round trip). A token
//!    without the `user:email` (or `user`) scope gets 403/404 there: the user is made without an
//!    email. The call is skipped when the token's scopes show it cannot succeed.

use serde::Deserialize;

use super::{
    display_name, http_url, is_header_safe, outage, parse_json, send, Credentials, FirstLogin, ProviderError, Verified,
};
use crate::config::GitHubConfig;
use crate::domain::identity::{Provider, VerifiedIdentity};
use crate::domain::secret::Secret;

const ACCEPT: &str = "application/vnd.github+json";
const API_VERSION_HEADER: &str = "X-GitHub-Api-Version";
const API_VERSION: &str = "2022-11-28";

pub struct GitHubVerifier {
    http: reqwest::Client,
    client_id: String,
    client_secret: Secret,
    /// `{api_url}/applications/{client_id}/token`.
    check_token_url: String,
    /// `{api_url}/user/emails`.
    emails_url: String,
}

/// The answer of `POST /applications/{client_id}/token` (fields we use).
#[derive(Deserialize)]
pub(crate) struct TokenCheck {
    app: CheckedApp,
    user: Option<User>,
    /// OAuth scopes; empty for GitHub App user tokens, which use permissions instead.
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct CheckedApp {
    client_id: String,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: Option<String>,
    name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

impl GitHubVerifier {
    /// The call a returning login starts with ([`super::Providers::certain_call`]): the token check.
    pub(crate) fn certain_call(&self) -> (&reqwest::Client, &str) {
        (&self.http, &self.check_token_url)
    }

    pub fn new(config: &GitHubConfig, http: reqwest::Client) -> GitHubVerifier {
        let base = config.api_url.trim_end_matches('/');
        GitHubVerifier {
            http,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            check_token_url: format!("{base}/applications/{}/token", config.client_id),
            emails_url: format!("{base}/user/emails"),
        }
    }

    /// The token's user, without an email: [`GitHubVerifier::add_email`] reads it if the
    /// identity turns out to be new.
    pub async fn verify(&self, creds: &Credentials) -> Result<Verified, ProviderError> {
        let token = creds.require_access_token()?;
        if !is_header_safe(token.expose()) {
            // Not a token GitHub issues (and it could not be sent as a header).
            return Err(ProviderError::Rejected("github: malformed token".into()));
        }
        let check = self.check_token(token).await?;
        let user = check.user.ok_or_else(|| ProviderError::BadResponse("github token check has no user".into()))?;
        let name = display_name(&[user.name.as_deref()]).or_else(|| display_name(&[user.login.as_deref()]));
        let identity = VerifiedIdentity {
            provider: Provider::GitHub,
            subject: user.id.to_string(),
            name,
            email_verified: false,
            hosted_domain: None,
            email: None,
            avatar_url: http_url(user.avatar_url),
        };
        let on_first_login = may_read_emails(check.scopes.as_deref()).then_some(FirstLogin::GitHubEmail);
        Ok(Verified { identity, on_first_login })
    }

    /// [`GitHubVerifier::verify`], then what a first login asks too: the whole identity.
    pub async fn verify_first_login(&self, creds: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        let verified = self.verify(creds).await?;
        match verified.on_first_login {
            Some(FirstLogin::GitHubEmail) => self.add_email(verified.identity, creds).await,
            None => Ok(verified.identity),
        }
    }

    /// Step 2, for a new identity: its primary verified address, if the token may read it.
    pub(crate) async fn add_email(
        &self,
        mut identity: VerifiedIdentity,
        creds: &Credentials,
    ) -> Result<VerifiedIdentity, ProviderError> {
        identity.email = self.primary_email(creds.require_access_token()?).await?;
        identity.email_verified = identity.email.is_some();
        Ok(identity)
    }

    /// Step 1: the token is valid and issued to our app.
    async fn check_token(&self, token: &Secret) -> Result<TokenCheck, ProviderError> {
        let req = self
            .http
            .post(&self.check_token_url)
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .header(reqwest::header::ACCEPT, ACCEPT)
            .header(API_VERSION_HEADER, API_VERSION)
            .json(&serde_json::json!({ "access_token": token.expose() }));
        let (status, body) = send(req).await?;
        check_answer(status, &body, &self.client_id)
    }

    /// Step 2: the primary verified address, if the token may read it.
    async fn primary_email(&self, token: &Secret) -> Result<Option<String>, ProviderError> {
        let req = self
            .http
            .get(&self.emails_url)
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, ACCEPT)
            .header(API_VERSION_HEADER, API_VERSION);
        let (status, body) = send(req).await?;
        emails_answer(status, &body)
    }
}

/// What the token check's answer says: the token's user and scopes, if it is valid and issued
/// to our app (`client_id`).
pub(crate) fn check_answer(
    status: reqwest::StatusCode,
    body: &[u8],
    client_id: &str,
) -> Result<TokenCheck, ProviderError> {
    if status != reqwest::StatusCode::OK {
        return Err(classify_check_error(status));
    }
    let check: TokenCheck = parse_json(body, "github token check")?;
    if check.app.client_id != client_id {
        return Err(ProviderError::Rejected("github: token issued to another app".into()));
    }
    Ok(check)
}

/// What `/user/emails` answered: the primary verified address, none, or a failure.
pub(crate) fn emails_answer(status: reqwest::StatusCode, body: &[u8]) -> Result<Option<String>, ProviderError> {
    match status.as_u16() {
        200 => primary_verified(body),
        // GitHub's rate limits answer 403 too: that is an outage, not a missing scope.
        403 if is_rate_limit(body) => Err(ProviderError::Unavailable("github rate limit".into())),
        // No `user:email` scope (or the emails permission for a GitHub App token).
        403 | 404 => Ok(None),
        // Revoked between the two calls.
        401 => Err(ProviderError::Rejected("github: token refused by /user/emails".into())),
        _ => Err(outage(status)
            .unwrap_or_else(|| ProviderError::BadResponse(format!("github /user/emails answered {status}")))),
    }
}

/// Whether `/user/emails` can answer for a token with these OAuth scopes: it needs `user:email`
/// or `user`. An empty or absent list is a GitHub App user token (permissions, not scopes) or a
/// token without scopes: asked anyway, a 403/404 then means no email.
fn may_read_emails(scopes: Option<&[String]>) -> bool {
    match scopes {
        None | Some([]) => true,
        Some(scopes) => scopes.iter().any(|s| s == "user" || s == "user:email"),
    }
}

/// Whether a GitHub error body is a (primary or secondary) rate limit: their messages say so
/// ("API rate limit exceeded ...", "You have exceeded a secondary rate limit ...").
fn is_rate_limit(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Message {
        message: Option<String>,
    }
    serde_json::from_slice::<Message>(body)
        .ok()
        .and_then(|m| m.message)
        .is_some_and(|m| m.to_ascii_lowercase().contains("rate limit"))
}

/// The primary address if it is verified; GitHub guarantees at most one primary.
fn primary_verified(body: &[u8]) -> Result<Option<String>, ProviderError> {
    let emails: Vec<Email> = parse_json(body, "github /user/emails")?;
    Ok(emails
        .into_iter()
        .find(|e| e.primary && e.verified && e.email.contains('@'))
        .map(|e| e.email.trim().to_string()))
}

/// The failure class of a non-200 answer of `POST /applications/{client_id}/token`.
fn classify_check_error(status: reqwest::StatusCode) -> ProviderError {
    if let Some(out) = outage(status) {
        return out;
    }
    match status.as_u16() {
        404 => ProviderError::Rejected("github: token not valid for our app".into()),
        422 => ProviderError::Rejected("github: token check refused the token".into()),
        401 => ProviderError::Unavailable(
            "github refused our OAuth app credentials: check GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET".into(),
        ),
        // Secondary rate limits and "maximum number of login attempts" for our app.
        403 => ProviderError::Unavailable("github answered 403 to our app (rate limit?)".into()),
        _ => ProviderError::BadResponse(format!("github token check answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn verifier(client_id: &str, api_url: &str) -> GitHubVerifier {
        let config =
            GitHubConfig { client_id: client_id.into(), client_secret: Secret::new("s"), api_url: api_url.into() };
        GitHubVerifier::new(&config, reqwest::Client::new())
    }

    #[test]
    fn urls_are_built_on_the_api_url() {
        let v = verifier("Iv1.8a61f9b3a7aba766", "https://api.github.com");
        assert_eq!(v.check_token_url, "https://api.github.com/applications/Iv1.8a61f9b3a7aba766/token");
        assert_eq!(v.emails_url, "https://api.github.com/user/emails");
    }

    #[test]
    fn token_check_answer_is_read() {
        let check: TokenCheck = parse_json(
            br#"{"id":1,"url":"https://api.github.com/authorizations/1","scopes":["user:email"],
                 "token":"gho_16C7e42F292c6912E7710c838347Ae178B4a","token_last_eight":"Ae178B4a",
                 "app":{"url":"http://my-github-app.com","name":"my github app","client_id":"Iv1.8a61f9b3a7aba766"},
                 "note":null,"created_at":"2011-09-06T17:26:27Z","expires_at":null,
                 "user":{"login":"octocat","id":1,"avatar_url":"https://github.com/images/error/octocat_happy.gif",
                         "type":"User","site_admin":false}}"#,
            "check",
        )
        .expect("check");
        assert_eq!(check.app.client_id, "Iv1.8a61f9b3a7aba766");
        let user = check.user.expect("user");
        assert_eq!(user.id, 1);
        assert_eq!(user.login.as_deref(), Some("octocat"));
        assert_eq!(user.name, None);
        assert_eq!(check.scopes.as_deref(), Some(&["user:email".to_string()][..]));
    }

    #[test]
    fn only_the_primary_verified_email_counts() {
        let pick = |b: &str| primary_verified(b.as_bytes()).expect("parsed");
        assert_eq!(
            pick(
                r#"[{"email":"1+octo@users.noreply.github.com","primary":false,"verified":true,"visibility":null},
                    {"email":"octo@example.com","primary":true,"verified":true,"visibility":"public"}]"#
            ),
            Some("octo@example.com".to_string())
        );
        assert_eq!(
            pick(
                r#"[{"email":"octo@example.com","primary":true,"verified":false,"visibility":"private"},
                    {"email":"other@example.com","primary":false,"verified":true,"visibility":null}]"#
            ),
            None
        );
        assert_eq!(pick("[]"), None);
        assert!(matches!(primary_verified(br#"{"message":"x"}"#), Err(ProviderError::BadResponse(_))));
    }

    #[test]
    fn emails_are_asked_only_when_the_scopes_allow() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(may_read_emails(None));
        assert!(may_read_emails(Some(&[])));
        assert!(may_read_emails(Some(&s(&["repo", "user:email"]))));
        assert!(may_read_emails(Some(&s(&["user"]))));
        assert!(!may_read_emails(Some(&s(&["read:user"]))));
        assert!(!may_read_emails(Some(&s(&["public_repo"]))));
    }

    #[test]
    fn rate_limits_are_told_from_missing_scopes() {
        assert!(is_rate_limit(br#"{"message":"API rate limit exceeded for user ID 1.","documentation_url":"x"}"#));
        assert!(is_rate_limit(br#"{"message":"You have exceeded a secondary rate limit. Please wait."}"#));
        assert!(!is_rate_limit(br#"{"message":"Resource not accessible by integration"}"#));
        assert!(!is_rate_limit(b"<html>rate limit</html>"));
    }

    #[test]
    fn token_check_errors_are_classified() {
        let class = |s: u16| classify_check_error(StatusCode::from_u16(s).unwrap());
        assert!(matches!(class(404), ProviderError::Rejected(_)));
        assert!(matches!(class(422), ProviderError::Rejected(_)));
        // Our own app credentials are wrong: never the client's fault.
        match class(401) {
            ProviderError::Unavailable(why) => assert!(why.contains("GITHUB_CLIENT_SECRET"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(class(403), ProviderError::Unavailable(_)));
        assert!(matches!(class(429), ProviderError::Unavailable(_)));
        assert!(matches!(class(500), ProviderError::Unavailable(_)));
        assert!(matches!(class(503), ProviderError::Unavailable(_)));
        assert!(matches!(class(301), ProviderError::BadResponse(_)));
        assert!(matches!(class(204), ProviderError::BadResponse(_)));
    }

    #[tokio::test]
    async fn missing_or_malformed_tokens_fail_without_a_request() {
        let v = verifier("c", "http://127.0.0.1:1");
        assert!(matches!(
            v.verify(&Credentials::default()).await,
            Err(ProviderError::MissingCredential("access_token"))
        ));
        let blank = Credentials { access_token: Some(Secret::new("  ")), ..Credentials::default() };
        assert!(matches!(v.verify(&blank).await, Err(ProviderError::MissingCredential("access_token"))));
        let garbage = Credentials { access_token: Some(Secret::new("gho_x\r\nX: y")), ..Credentials::default() };
        assert!(matches!(v.verify(&garbage).await, Err(ProviderError::Rejected(_))));
    }
}

//! Sign in with Apple's REST API for the app's server: `POST /apple/auth/token` (exchanging an
//! authorization code) and `POST /apple/auth/revoke`. Both check the client secret for real: an
//! ES256 JWT signed with the team's Sign in with Apple key (checked against its public key,
//! [`AppleTeam`]), header `kid` the key id, `iss` the team id, `sub` the `client_id` of the form,
//! `aud` `https://appleid.apple.com`, not expired. Errors as Apple answers them: 400
//! `{"error": "invalid_client"}` for a bad client secret, `{"error": "invalid_grant"}` for a code
//! that is unknown, used, expired or of another client.
//!
//! Admin routes (never counted nor faulted):
//! - `POST /_emulator/oidc/apple/codes` `{"sub", "client_id"}` → `{"code"}` (valid 5 minutes, once)
//! - `POST /_emulator/apple/revoke_failures` `{"count"}`: the next `count` revocations answer 503

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use crate::admin::AdminJson;
use crate::oidc::OidcProvider;
use crate::state::Shared;
use crate::util::{lock, now, random_alnum};

/// Our team and Sign in with Apple key, as Apple knows them.
#[derive(Clone, Debug)]
pub struct AppleTeam {
    pub team_id: String,
    pub key_id: String,
    /// The public half of the key (SPKI PEM, P-256).
    pub public_key_pem: String,
    /// The client ids (bundle / Services ids) of the team.
    pub client_ids: Vec<String>,
}

struct Code {
    sub: String,
    client_id: String,
    expires_at: i64,
}

/// A refresh token Apple issued.
#[derive(Clone, Debug)]
pub struct RefreshToken {
    pub token: String,
    pub sub: String,
    pub client_id: String,
    pub revoked: bool,
}

#[derive(Default)]
struct Data {
    codes: HashMap<String, Code>,
    refresh_tokens: HashMap<String, RefreshToken>,
}

pub(crate) struct AppleTokens {
    /// The teams Apple knows: ours (the configuration's) and any a test registers
    /// ([`AppleTokens::add_team`]: an instance's own app of another team).
    teams: Mutex<Vec<AppleTeam>>,
    data: Mutex<Data>,
    revoke_failures: AtomicU64,
    pub(crate) exchanges: AtomicU64,
    pub(crate) revocations: AtomicU64,
}

impl AppleTokens {
    pub(crate) fn new(team: Option<AppleTeam>) -> AppleTokens {
        AppleTokens {
            teams: Mutex::new(team.into_iter().collect()),
            data: Mutex::new(Data::default()),
            revoke_failures: AtomicU64::new(0),
            exchanges: AtomicU64::new(0),
            revocations: AtomicU64::new(0),
        }
    }

    pub(crate) fn mint_code(&self, sub: &str, client_id: &str) -> String {
        let code = format!("c{}.0.{}", random_alnum(32), random_alnum(6).to_ascii_lowercase());
        let entry = Code { sub: sub.into(), client_id: client_id.into(), expires_at: now() + 300 };
        lock(&self.data).codes.insert(code.clone(), entry);
        code
    }

    pub(crate) fn refresh_tokens_of(&self, sub: &str) -> Vec<RefreshToken> {
        lock(&self.data).refresh_tokens.values().filter(|t| t.sub == sub).cloned().collect()
    }

    pub(crate) fn fail_revocations(&self, count: u64) {
        self.revoke_failures.store(count, Ordering::SeqCst);
    }

    /// Registers another team (its key and client ids), as Apple knows every developer team.
    pub(crate) fn add_team(&self, team: AppleTeam) {
        lock(&self.teams).push(team);
    }

    /// Checks a client secret for `client_id`: signed with the key of the team that owns it.
    fn client_ok(&self, client_id: &str, secret: &str) -> bool {
        let teams = lock(&self.teams).clone();
        let Some(team) = teams.iter().find(|t| t.client_ids.iter().any(|c| c == client_id)) else { return false };
        let Some(point) = spki_point(&team.public_key_pem) else { return false };
        let Ok(header) = jsonwebtoken::decode_header(secret) else { return false };
        if header.alg != jsonwebtoken::Algorithm::ES256 || header.kid.as_deref() != Some(team.key_id.as_str()) {
            return false;
        }
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["https://appleid.apple.com"]);
        validation.set_issuer(&[team.team_id.as_str()]);
        validation.sub = Some(client_id.to_string());
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        let key = jsonwebtoken::DecodingKey::from_ec_der(&point);
        let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(secret, &key, &validation) else { return false };
        // Apple refuses a client secret valid longer than 6 months.
        let (iat, exp) = (data.claims["iat"].as_i64(), data.claims["exp"].as_i64());
        matches!((iat, exp), (Some(iat), Some(exp)) if exp - iat <= 15_777_000 && iat <= now() + 60)
    }
}

/// The uncompressed point at the end of a P-256 SubjectPublicKeyInfo.
fn spki_point(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body.trim()).ok()?;
    let point = der.get(der.len().checked_sub(65)?..)?;
    (point.first() == Some(&0x04)).then(|| point.to_vec())
}

fn apple_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

/// The form of a request's body; `None` (Apple's `invalid_request`) if it is too long or no form.
async fn read_form(body: Body) -> Option<HashMap<String, String>> {
    let body = axum::body::to_bytes(body, 1 << 16).await.ok()?;
    serde_urlencoded::from_bytes(&body).ok()
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/apple/auth/token", post(token))
        .route("/apple/auth/revoke", post(revoke))
        .route("/_emulator/oidc/apple/codes", post(admin_code))
        .route("/_emulator/apple/revoke_failures", post(admin_revoke_failures))
}

/// `POST /apple/auth/token` (grant_type `authorization_code`).
async fn token(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(response) = shared.provider_fault(&parts.extensions, |_| None).await {
        return response;
    }
    let Some(form) = read_form(body).await else { return apple_error("invalid_request") };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let apple = &shared.apple_tokens;
    if !apple.client_ok(field("client_id"), field("client_secret")) {
        return apple_error("invalid_client");
    }
    if field("grant_type") != "authorization_code" {
        return apple_error("unsupported_grant_type");
    }
    let code = {
        let mut data = lock(&apple.data);
        match data.codes.remove(field("code")) {
            Some(c) if c.client_id == field("client_id") && c.expires_at > now() => c,
            _ => return apple_error("invalid_grant"),
        }
    };
    let Ok(id_token) = shared.oidc.issue_id_token(OidcProvider::Apple, &code.sub, &code.client_id, None) else {
        return apple_error("invalid_grant");
    };
    let refresh = format!("r{}.0.{}", random_alnum(32), random_alnum(6).to_ascii_lowercase());
    lock(&apple.data).refresh_tokens.insert(
        refresh.clone(),
        RefreshToken { token: refresh.clone(), sub: code.sub, client_id: code.client_id, revoked: false },
    );
    apple.exchanges.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "access_token": format!("a{}", random_alnum(32)),
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": refresh,
        "id_token": id_token,
    }))
    .into_response()
}

/// `POST /apple/auth/revoke`: 200 with an empty body, also for a token already revoked or
/// unknown (as Apple does); the client must be right.
async fn revoke(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(response) = shared.provider_fault(&parts.extensions, |_| None).await {
        return response;
    }
    let apple = &shared.apple_tokens;
    if apple.revoke_failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    let Some(form) = read_form(body).await else { return apple_error("invalid_request") };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if !apple.client_ok(field("client_id"), field("client_secret")) {
        return apple_error("invalid_client");
    }
    if field("token").is_empty() {
        return apple_error("invalid_request");
    }
    // Apple revokes the token and the user's authorization behind it: every refresh token of
    // that person for that client goes, including one issued after the token presented.
    let mut data = lock(&apple.data);
    let grant = data
        .refresh_tokens
        .get(field("token"))
        .filter(|t| t.client_id == field("client_id"))
        .map(|t| (t.sub.clone(), t.client_id.clone()));
    if let Some((sub, client_id)) = grant {
        for t in data.refresh_tokens.values_mut().filter(|t| t.sub == sub && t.client_id == client_id) {
            t.revoked = true;
        }
    }
    drop(data);
    apple.revocations.fetch_add(1, Ordering::SeqCst);
    StatusCode::OK.into_response()
}

#[derive(Deserialize)]
struct NewCode {
    sub: String,
    client_id: String,
}

async fn admin_code(State(shared): State<Arc<Shared>>, AdminJson(req): AdminJson<NewCode>) -> Response {
    Json(json!({ "code": shared.apple_tokens.mint_code(&req.sub, &req.client_id) })).into_response()
}

#[derive(Deserialize)]
struct RevokeFailures {
    count: u64,
}

async fn admin_revoke_failures(
    State(shared): State<Arc<Shared>>,
    AdminJson(req): AdminJson<RevokeFailures>,
) -> Response {
    shared.apple_tokens.fail_revocations(req.count);
    Json(json!({ "count": req.count })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, Header};

    const KEY: &str = include_str!("../keys/apple-sign-in.p8");
    const PUBLIC: &str = include_str!("../keys/apple-sign-in.pub.pem");

    fn apple() -> AppleTokens {
        AppleTokens::new(Some(AppleTeam {
            team_id: "TEAM123456".into(),
            key_id: "KEY1234567".into(),
            public_key_pem: PUBLIC.into(),
            client_ids: vec!["com.example.app".into()],
        }))
    }

    fn secret(kid: &str, claims: serde_json::Value) -> String {
        let key = shared::providers::apple_tokens::signing_key(KEY).expect("fixture key");
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, &claims, &key).expect("signed")
    }

    fn claims(iss: &str, sub: &str, aud: &str, iat: i64, exp: i64) -> serde_json::Value {
        json!({ "iss": iss, "sub": sub, "aud": aud, "iat": iat, "exp": exp })
    }

    #[test]
    fn only_a_client_secret_signed_with_the_team_key_for_the_client_passes() {
        let apple = apple();
        let t = now();
        let good = claims("TEAM123456", "com.example.app", "https://appleid.apple.com", t, t + 300);
        assert!(apple.client_ok("com.example.app", &secret("KEY1234567", good.clone())));
        assert!(!apple.client_ok("com.example.other", &secret("KEY1234567", good.clone())), "another client id");
        assert!(!apple.client_ok("com.example.app", &secret("OTHERKEY01", good.clone())), "another key id");
        let cases = [
            claims("OTHERTEAM1", "com.example.app", "https://appleid.apple.com", t, t + 300),
            claims("TEAM123456", "com.example.other", "https://appleid.apple.com", t, t + 300),
            claims("TEAM123456", "com.example.app", "https://example.com", t, t + 300),
            claims("TEAM123456", "com.example.app", "https://appleid.apple.com", t - 600, t - 300),
            claims("TEAM123456", "com.example.app", "https://appleid.apple.com", t, t + 200 * 86_400),
        ];
        for c in cases {
            assert!(!apple.client_ok("com.example.app", &secret("KEY1234567", c.clone())), "{c}");
        }
        // A changed signature.
        let mut forged = secret("KEY1234567", good);
        let last = forged.pop().map_or('A', |c| if c == 'A' { 'B' } else { 'A' });
        forged.push(last);
        assert!(!apple.client_ok("com.example.app", &forged));
        assert!(!AppleTokens::new(None).client_ok("com.example.app", "x"), "no team configured");
    }
}

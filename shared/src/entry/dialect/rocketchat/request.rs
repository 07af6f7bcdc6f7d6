//! Reading `POST /api/v1/login` as Rocket.Chat's login handlers do: a resume token, or an
//! OAuth login (`serviceName` and the provider's token fields).

use lambda_http::Request;
use serde_json::{Map, Value};

use crate::domain::identity::Provider;
use crate::domain::secret::Secret;
use crate::entry::dialect::{access_token, printable};
use crate::entry::http::{body_bytes, media_type, MAX_BODY_BYTES};
use crate::providers::Credentials;
use crate::usecases::error::UseCaseError;

/// A validated OAuth login request.
#[derive(Debug)]
pub struct LoginRequest {
    pub provider: Provider,
    pub credentials: Credentials,
    /// Lifetime of the provider's token, as the client says; validated, not trusted.
    pub expires_in: Option<i64>,
}

/// What `POST /api/v1/login` asks for.
#[derive(Debug)]
pub enum Login {
    OAuth(LoginRequest),
    /// `{"resume": authToken}`.
    Resume(Secret),
}

fn bad(message: &str) -> UseCaseError {
    UseCaseError::BadRequest(message.to_string())
}

/// What Meteor's `login` method answers when no login handler takes the request (no
/// credentials at all): `Meteor.Error(400, "Unrecognized options for login request")`, which
/// Rocket.Chat's `loginErrorMessageOverride.ts` turns into `User not found` and ApiClass.ts into
/// the plain 401 `Unauthorized`. A refusal, not a malformed request.
pub const UNRECOGNIZED: &str = "Unrecognized options for login request";

fn unrecognized() -> UseCaseError {
    UseCaseError::TokenRejected(UNRECOGNIZED.into())
}

/// An optional string field: absent, null or blank is `None`, anything but a string is an
/// invalid parameter (Meteor's `check` failing).
fn opt_string<'a>(map: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, UseCaseError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(UseCaseError::BadRequest(format!("{field} must be a string."))),
    }
}

/// Reads and validates the login body. Only OAuth logins (`serviceName`) are served here, with
/// the fields Rocket.Chat's clients send: `accessToken`, Google's `idToken`, Apple's
/// `identityToken`, `fullName` and `authorizationCode`, Twitter's `accessTokenSecret`; `nonce`
/// for Apple and Facebook Limited Login.
pub fn parse_login(req: &Request) -> Result<LoginRequest, UseCaseError> {
    oauth_login(json_body(req)?)
}

/// Reads a login body: a resume token, or an OAuth login. As Meteor's login handlers do, an
/// empty `resume` is no resume, and a body without credentials is [`UNRECOGNIZED`].
pub fn parse(req: &Request) -> Result<Login, UseCaseError> {
    let map = json_body(req)?;
    match opt_string(&map, "resume").map_err(|_| bad("resume must be a string."))? {
        None => Ok(Login::OAuth(oauth_login(map)?)),
        Some(t) => Ok(Login::Resume(access_token(t)?)),
    }
}

/// The body as a JSON object (size checked). As Rocket.Chat's body parser leaves `bodyParams`
/// empty for a body it cannot read (another media type, not JSON, not an object), such a body
/// is a login request without credentials: [`UNRECOGNIZED`].
fn json_body(req: &Request) -> Result<Map<String, Value>, UseCaseError> {
    let body = body_bytes(req);
    if body.len() > MAX_BODY_BYTES {
        return Err(bad("Request body is too large."));
    }
    if !matches!(media_type(req).as_deref(), None | Some("application/json")) {
        return Err(unrecognized());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(unrecognized()),
    }
}

fn oauth_login(map: Map<String, Value>) -> Result<LoginRequest, UseCaseError> {
    let access = opt_string(&map, "accessToken")?;
    let id_token = match opt_string(&map, "idToken")? {
        Some(t) => Some(t),
        None => opt_string(&map, "identityToken")?,
    };
    // Rocket.Chat's OAuth handler (`if (!options.accessToken) return undefined`) and Apple's
    // (`identityToken`) pass; no other handler takes the request.
    if access.is_none() && id_token.is_none() {
        return Err(unrecognized());
    }
    let service = opt_string(&map, "serviceName")?.ok_or_else(|| bad("serviceName is required."))?;
    let token_secret = opt_string(&map, "accessTokenSecret")?;
    let nonce = opt_string(&map, "nonce")?;
    let authorization_code = opt_string(&map, "authorizationCode")?;
    let name = full_name(map.get("fullName"))?;
    if !matches!(map.get("secret"), None | Some(Value::Null) | Some(Value::String(_))) {
        return Err(bad("secret must be a string."));
    }
    let provider =
        Provider::from_service_name(service).ok_or_else(|| UseCaseError::UnsupportedService(printable(service)))?;
    let expires_in = match map.get("expiresIn") {
        // Apple's sign-in gives no token lifetime to send.
        None | Some(Value::Null) if provider == Provider::Apple => None,
        None | Some(Value::Null) => return Err(bad("expiresIn is required.")),
        Some(v) => Some(v.as_i64().filter(|n| *n >= 0).ok_or_else(|| bad("expiresIn must be an integer."))?),
    };
    let secret = |v: Option<&str>| v.map(access_token).transpose();
    let credentials = match (provider, access, id_token) {
        // A lone token that is a JWT is an ID token, whatever field it came in.
        (_, Some(a), None) => {
            let mut c = Credentials::from_single_token(provider, access_token(a)?);
            c.token_secret = c.token_secret.or(secret(token_secret)?);
            c
        }
        (_, a, id) => Credentials {
            access_token: secret(a)?,
            id_token: secret(id)?,
            token_secret: secret(token_secret)?,
            ..Credentials::default()
        },
    };
    let credentials =
        Credentials { nonce: secret(nonce)?, name, authorization_code: secret(authorization_code)?, ..credentials };
    Ok(LoginRequest { provider, credentials, expires_in })
}

/// Apple's `fullName`: a string, or the `{givenName, familyName}` object iOS hands the app.
fn full_name(v: Option<&Value>) -> Result<Option<String>, UseCaseError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.trim().is_empty())),
        Some(Value::Object(o)) => {
            let part = |k: &str| o.get(k).and_then(Value::as_str);
            let parts: Vec<&str> = [part("givenName"), part("familyName")].into_iter().flatten().collect();
            Ok(Some(parts.join(" ")).filter(|s| !s.trim().is_empty()))
        }
        Some(_) => Err(bad("fullName must be a string or an object.")),
    }
}

/// The `password` of `POST /api/v1/users.deleteOwnAccount` (for our users, who have none, the
/// SHA-256 of their username). As the route reads `bodyParams`: a body that is not a JSON object
/// has none; a missing or falsy `password` is `Body parameter "password" is required.`
/// (`confirmRelinquish` is read and ignored: our users own no rooms to relinquish).
pub fn delete_password(req: &Request) -> Result<String, UseCaseError> {
    const REQUIRED: &str = "Body parameter \"password\" is required.";
    let body = body_bytes(req);
    if body.len() > MAX_BODY_BYTES {
        return Err(bad("Request body is too large."));
    }
    let map = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) if matches!(media_type(req).as_deref(), None | Some("application/json")) => map,
        _ => Map::new(),
    };
    match map.get("password") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Err(bad(REQUIRED)),
        Some(Value::String(s)) if s.is_empty() => Err(bad(REQUIRED)),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => Err(bad(REQUIRED)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(bad("Body parameter \"password\" must be a string.")),
    }
}

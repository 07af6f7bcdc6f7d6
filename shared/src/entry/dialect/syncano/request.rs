//! Reading a Syncano request as the platform does: the path's instance, the API key and user
//! key wherever `ApiKeyAuthentication` looks for them, and the body (JSON, `text/plain`, form,
//! multipart) with Django REST framework's field rules.

use lambda_http::{Request, RequestExt};
use serde_json::Value;

use super::error::{bad_request, SyncanoError};
use crate::domain::identity::Provider;
use crate::domain::secret::Secret;
use crate::entry::dialect::{access_token, printable};
use crate::entry::http::{body_bytes, header_str, media_type, MAX_BODY_BYTES};
use crate::providers::Credentials;

/// A Syncano social login: the instance's API key and the provider token.
#[derive(Debug)]
pub struct LoginRequest {
    /// As written in the URL; validated later (a name that cannot exist is an unknown instance).
    pub instance: String,
    pub api_key: Option<Secret>,
    /// Read from the body only once the API key is checked, as the platform does: a malformed
    /// body with a wrong key answers like a wrong key.
    pub credentials: Result<Credentials, SyncanoError>,
}

/// Reads the path's `{instance}`, the API key (wherever the platform accepts it: [`api_key`])
/// and the body: `access_token` (the provider token; for Twitter `token:secret`), and for Apple
/// and Facebook Limited Login the raw `nonce`, for Apple the `name` it gave the app at first
/// sign-in and its `authorization_code`. Body errors that the platform only meets after the key check are kept in
/// `credentials` (a body the key itself had to be read from fails here, as there).
pub fn parse_login(req: &Request, provider: Provider) -> Result<LoginRequest, SyncanoError> {
    let instance = path_param(req, "instance", SyncanoError::InvalidApiKey)?;
    let data = request_data(req);
    let api_key = api_key(req, &data)?;
    let credentials = data.map_err(|e| e.into_error()).and_then(|d| credentials(&d, provider));
    Ok(LoginRequest { instance, api_key, credentials })
}

/// The credentials of the body, as the platform's `SocialAuthSerializer` (a `CharField`) reads
/// `access_token`; the optional `nonce`, `name` and `authorization_code` are this service's additions.
pub(super) fn credentials(data: &Data, provider: Provider) -> Result<Credentials, SyncanoError> {
    let fields = data.fields().ok_or(SyncanoError::MalformedCredentials)?;
    let token = fields.char_field("access_token").ok_or(SyncanoError::MalformedCredentials)?;
    let mut credentials = Credentials::from_single_token(provider, access_token(&token)?);
    credentials.nonce = fields.optional("nonce")?.map(|n| access_token(&n)).transpose()?;
    credentials.name = fields.optional("name")?;
    credentials.authorization_code = fields.optional("authorization_code")?.map(|c| access_token(&c)).transpose()?;
    Ok(credentials)
}

/// The request's data as the platform's parsers read it (`settings.REST_FRAMEWORK`:
/// JSON, `text/plain` read as JSON by `PreflightParser`, form, multipart). A request without a
/// body or without a `Content-Type` has empty data, as in Django REST framework.
pub(super) enum Data {
    Fields(Fields),
    /// JSON that is not an object (a list, a number): no field can be read from it.
    NotAnObject,
}

impl Data {
    pub(super) fn fields(&self) -> Option<&Fields> {
        match self {
            Data::Fields(f) => Some(f),
            Data::NotAnObject => None,
        }
    }
}

/// Why the body could not be read; the status and `detail` come from [`error_status`].
#[derive(Debug)]
pub(super) enum BodyError {
    TooLarge,
    Json(String),
    Form,
    Multipart,
    Media(String),
}

impl BodyError {
    pub(super) fn into_error(self) -> SyncanoError {
        match self {
            BodyError::TooLarge => bad_request("Request body is too large."),
            BodyError::Json(why) => bad_request(format!("JSON parse error - {why}")),
            BodyError::Form => bad_request("Form parse error."),
            BodyError::Multipart => bad_request("Multipart form parse error."),
            BodyError::Media(media_type) => SyncanoError::UnsupportedMediaType(media_type),
        }
    }
}

pub(super) fn request_data(req: &Request) -> Result<Data, BodyError> {
    let body = body_bytes(req);
    let Some(content_type) = header_str(req, "content-type") else {
        return Ok(Data::Fields(Fields(Vec::new())));
    };
    if body.is_empty() {
        return Ok(Data::Fields(Fields(Vec::new())));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    match media_type(req).as_deref() {
        Some("application/json" | "text/plain") => json_data(body),
        Some("application/x-www-form-urlencoded") => form_fields(body).map(Data::Fields),
        Some("multipart/form-data") => multipart_fields(content_type, body).map(Data::Fields),
        _ => Err(BodyError::Media(printable(content_type))),
    }
}

/// A query parameter as Django's `request.GET.get` reads it (the last value), if not empty.
fn query_param(req: &Request, name: &str) -> Option<String> {
    let params = req.query_string_parameters_ref()?;
    params.all(name)?.last().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The API key where the platform's `ApiKeyAuthentication.get_api_key` looks for it, in its
/// order: the `X-API-KEY` header, the `api_key` or `apikey` query parameter, the
/// `Authorization` header (`<scheme> <key>`, e.g. `ApiKey …` or `Token …`), the body's
/// `_api_key`. Only the last needs the body, so only then can a bad body fail the request.
pub(super) fn api_key(req: &Request, data: &Result<Data, BodyError>) -> Result<Option<Secret>, SyncanoError> {
    if let Some(key) = header_str(req, "x-api-key") {
        return Ok(Some(Secret::new(key)));
    }
    if let Some(key) = query_param(req, "api_key").or_else(|| query_param(req, "apikey")) {
        return Ok(Some(Secret::new(key)));
    }
    if let Some(authorization) = header_str(req, "authorization") {
        // `_, api_key = header.split(' ', 2)`: exactly one space, any scheme word.
        let parts: Vec<&str> = authorization.splitn(3, ' ').collect();
        if let [_, key] = parts.as_slice() {
            return Ok((!key.is_empty()).then(|| Secret::new(*key)));
        }
    }
    body_key(data, "_api_key")
}

/// The user key where `ApiKeyAuthentication.get_user_key` looks for it: the `X-USER-KEY`
/// header, the `user_key` or `userkey` query parameter, the body's `_user_key`.
pub(super) fn user_key(req: &Request, data: &Result<Data, BodyError>) -> Result<Option<Secret>, SyncanoError> {
    if let Some(key) = header_str(req, "x-user-key") {
        return Ok(Some(Secret::new(key)));
    }
    if let Some(key) = query_param(req, "user_key").or_else(|| query_param(req, "userkey")) {
        return Ok(Some(Secret::new(key)));
    }
    body_key(data, "_user_key")
}

/// A key sent in the body (to avoid a CORS preflight). A key that is not a string is a wrong
/// key (the platform's regex match on it is a 500: its bug, not copied).
fn body_key(data: &Result<Data, BodyError>, field: &str) -> Result<Option<Secret>, SyncanoError> {
    let data = match data {
        Ok(d) => d,
        Err(BodyError::TooLarge) => return Err(BodyError::TooLarge.into_error()),
        Err(BodyError::Json(why)) => return Err(BodyError::Json(why.clone()).into_error()),
        Err(BodyError::Form) => return Err(BodyError::Form.into_error()),
        Err(BodyError::Multipart) => return Err(BodyError::Multipart.into_error()),
        Err(BodyError::Media(m)) => return Err(BodyError::Media(m.clone()).into_error()),
    };
    Ok(match data.fields().and_then(|f| f.get(field)) {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(Secret::new(s.as_str())),
        Some(_) => Some(Secret::new("")),
    })
}

/// The body's fields, from JSON, a form or a multipart form.
pub(super) struct Fields(Vec<(String, Value)>);

impl Fields {
    /// The field's value, the last one if repeated (as `QueryDict.get`); `null` is absent.
    fn get(&self, field: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(k, _)| k == field).map(|(_, v)| v).filter(|v| !v.is_null())
    }

    /// A Django REST framework `CharField`: a string or a number, whitespace trimmed, not blank.
    pub(super) fn char_field(&self, field: &str) -> Option<String> {
        let text = match self.get(field)? {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    }

    fn optional(&self, field: &str) -> Result<Option<String>, SyncanoError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(bad_request(format!("{field}: This field may not be blank.")))
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad_request(format!("{field}: Not a valid string."))),
        }
    }
}

fn json_data(body: &[u8]) -> Result<Data, BodyError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| BodyError::Json(json_error(&e)))?;
    Ok(match value {
        Value::Object(map) => Data::Fields(Fields(map.into_iter().collect())),
        _ => Data::NotAnObject,
    })
}

/// A JSON syntax error's position, without any of the input.
fn json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of input",
        _ => "invalid JSON",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

fn form_fields(body: &[u8]) -> Result<Fields, BodyError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| BodyError::Form)?;
    Ok(Fields(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
}

/// The text fields of a `multipart/form-data` body (file parts are not strings: a token sent as
/// a file is no token).
fn multipart_fields(content_type: &str, body: &[u8]) -> Result<Fields, BodyError> {
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or(BodyError::Multipart)?;
    let delimiter = format!("--{boundary}");
    let text = std::str::from_utf8(body).map_err(|_| BodyError::Multipart)?;
    let mut parts = text.split(delimiter.as_str());
    // Before the first delimiter: the preamble; after the last (`--`): the epilogue.
    parts.next();
    let mut fields = Vec::new();
    for part in parts {
        if part.starts_with("--") {
            return Ok(Fields(fields));
        }
        let part = part.strip_prefix("\r\n").ok_or(BodyError::Multipart)?;
        let (headers, value) = part.split_once("\r\n\r\n").ok_or(BodyError::Multipart)?;
        let value = value.strip_suffix("\r\n").ok_or(BodyError::Multipart)?;
        let disposition = headers
            .split("\r\n")
            .find_map(|h| h.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition")))
            .map(|(_, v)| v)
            .ok_or(BodyError::Multipart)?;
        let param =
            |name: &str| {
                disposition.split(';').skip(1).filter_map(|p| p.trim().split_once('=')).find_map(|(k, v)| {
                    k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').to_string())
                })
            };
        let name = param("name").ok_or(BodyError::Multipart)?;
        let value = if param("filename").is_some() { Value::Bool(false) } else { Value::String(value.into()) };
        fields.push((name, value));
    }
    Err(BodyError::Multipart)
}

/// The path parameter `name`, or the error a missing one is.
pub(super) fn path_param(req: &Request, name: &str, missing: SyncanoError) -> Result<String, SyncanoError> {
    req.path_parameters_ref().and_then(|p| p.first(name)).map(str::to_string).ok_or(missing)
}

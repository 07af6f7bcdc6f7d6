//! The Facebook part: people, tokens, and the Graph API endpoints social-login calls.
//!
//! Everything here answers with Graph's own response and error shapes; see
//! `GraphError` for the errors and `handle` for the routing.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::util::{lock, now, random_alnum, random_digits};

/// Lifetime of the tokens the test-user API hands out (Graph's long-lived tokens: 60 days).
const TEST_USER_TOKEN_TTL: i64 = 60 * 24 * 3600;
/// Graph's data access expiry: 90 days after the user last used the app.
const DATA_ACCESS_TTL: i64 = 90 * 24 * 3600;
/// Scopes every emulated token is granted.
const SCOPES: [&str; 2] = ["email", "public_profile"];

/// One person known to the emulator (a "Facebook user" before any app scoping).
#[derive(Clone, Debug)]
pub(crate) struct Person {
    name: String,
    email: Option<String>,
}

impl Person {
    fn name_part(&self, part: NamePart) -> Option<String> {
        let words: Vec<&str> = self.name.split_whitespace().collect();
        let n = words.len();
        match part {
            NamePart::First if n >= 1 => Some(words[0].to_string()),
            NamePart::Middle if n >= 3 => Some(words[1..n - 1].join(" ")),
            NamePart::Last if n >= 2 => Some(words[n - 1].to_string()),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum NamePart {
    First,
    Middle,
    Last,
}

/// A Facebook Page and the people who manage it.
#[derive(Clone, Debug)]
pub(crate) struct Page {
    name: String,
    managers: Vec<String>,
}

/// One access token issued by the emulator: a user access token, or (with `page`) a Page access
/// token that `person`, a manager of the Page, got through the app.
#[derive(Clone, Debug)]
pub(crate) struct TokenRecord {
    person: String,
    /// The Page a Page access token acts as.
    page: Option<String>,
    app_id: String,
    issued_at: i64,
    expires_at: i64,
    revoked: bool,
}

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IssueError {
    UnknownPerson,
    UnknownApp,
    UnknownPage,
    /// A Page access token was asked for by someone who does not manage the Page.
    NotAManager,
}

#[derive(Default)]
struct Data {
    persons: HashMap<String, Person>,
    pages: HashMap<String, Page>,
    tokens: HashMap<String, TokenRecord>,
}

/// The Facebook state: the configured apps (fixed) and the people and tokens created since.
pub(crate) struct Facebook {
    /// app id -> app secret.
    apps: HashMap<String, String>,
    /// Key deriving app-scoped user ids, so they are stable per (person, app) and differ by app.
    asid_key: [u8; 32],
    data: Mutex<Data>,
}

impl Facebook {
    pub(crate) fn new(apps: impl IntoIterator<Item = (String, String)>) -> Facebook {
        let mut asid_key = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut asid_key);
        Facebook { apps: apps.into_iter().collect(), asid_key, data: Mutex::new(Data::default()) }
    }

    pub(crate) fn has_app(&self, app_id: &str) -> bool {
        self.apps.contains_key(app_id)
    }

    pub(crate) fn create_person(&self, name: &str, email: Option<&str>) -> String {
        let mut data = lock(&self.data);
        let id = loop {
            // Global ids look like Facebook's test-user ids: 15 digits starting with 1000.
            let id = format!("1000{}", random_digits(11));
            if !data.persons.contains_key(&id) {
                break id;
            }
        };
        data.persons.insert(id.clone(), Person { name: name.to_string(), email: email.map(str::to_string) });
        id
    }

    pub(crate) fn issue_token(&self, person: &str, app_id: &str, ttl_secs: i64) -> Result<String, IssueError> {
        self.issue_token_as(person, app_id, ttl_secs, None)
    }

    /// Creates a Page managed by `manager`; returns its id (16 digits, like Page ids).
    pub(crate) fn create_page(&self, manager: &str, name: &str) -> Result<String, IssueError> {
        let mut data = lock(&self.data);
        if !data.persons.contains_key(manager) {
            return Err(IssueError::UnknownPerson);
        }
        let id = loop {
            let id = format!("10{}", random_digits(14));
            if !data.pages.contains_key(&id) {
                break id;
            }
        };
        data.pages.insert(id.clone(), Page { name: name.to_string(), managers: vec![manager.to_string()] });
        Ok(id)
    }

    /// A Page access token of `page` for the app `app_id`, as `person` (a manager of the Page)
    /// gets it from `/me/accounts`: it does not expire.
    pub(crate) fn issue_page_token(&self, person: &str, page: &str, app_id: &str) -> Result<String, IssueError> {
        if !self.has_app(app_id) {
            return Err(IssueError::UnknownApp);
        }
        let mut data = lock(&self.data);
        let manages = data.pages.get(page).ok_or(IssueError::UnknownPage)?.managers.iter().any(|m| m == person);
        if !manages {
            return Err(IssueError::NotAManager);
        }
        let token = loop {
            let token = format!("EAA{}", random_alnum(96));
            if !data.tokens.contains_key(&token) {
                break token;
            }
        };
        let now = now();
        let record = TokenRecord {
            person: person.to_string(),
            page: Some(page.to_string()),
            app_id: app_id.to_string(),
            issued_at: now,
            expires_at: i64::MAX,
            revoked: false,
        };
        data.tokens.insert(token.clone(), record);
        Ok(token)
    }

    /// Like `issue_token`, with the token's value chosen by the caller when `fixed` is given
    /// (the `events/` samples carry a fixed demo token).
    pub(crate) fn issue_token_as(
        &self,
        person: &str,
        app_id: &str,
        ttl_secs: i64,
        fixed: Option<&str>,
    ) -> Result<String, IssueError> {
        if !self.has_app(app_id) {
            return Err(IssueError::UnknownApp);
        }
        let mut data = lock(&self.data);
        if !data.persons.contains_key(person) {
            return Err(IssueError::UnknownPerson);
        }
        let now = now();
        let expires_at = now.saturating_add(ttl_secs);
        // An already expired token was issued an hour before it expired.
        let issued_at = if ttl_secs > 0 { now } else { expires_at - 3600 };
        let token = loop {
            if let Some(fixed) = fixed {
                break fixed.to_string();
            }
            let token = format!("EAA{}", random_alnum(96));
            if !data.tokens.contains_key(&token) {
                break token;
            }
        };
        data.tokens.insert(
            token.clone(),
            TokenRecord {
                person: person.to_string(),
                page: None,
                app_id: app_id.to_string(),
                issued_at,
                expires_at,
                revoked: false,
            },
        );
        Ok(token)
    }

    pub(crate) fn revoke_token(&self, token: &str) {
        if let Some(record) = lock(&self.data).tokens.get_mut(token) {
            record.revoked = true;
        }
    }

    /// The id Graph shows `app_id` for `person`: 17 digits, stable, different for every app.
    pub(crate) fn app_scoped_user_id(&self, person: &str, app_id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.asid_key).expect("HMAC-SHA256 accepts keys of any length");
        mac.update(person.as_bytes());
        mac.update(&[0]);
        mac.update(app_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        format!("1{:016}", u64::from_be_bytes(first) % 10_000_000_000_000_000)
    }

    fn token(&self, token: &str) -> Option<TokenRecord> {
        lock(&self.data).tokens.get(token).cloned()
    }

    fn person(&self, id: &str) -> Option<Person> {
        lock(&self.data).persons.get(id).cloned()
    }

    fn page(&self, id: &str) -> Option<Page> {
        lock(&self.data).pages.get(id).cloned()
    }

    /// Checks an app access token `APPID|APPSECRET`; returns the app id.
    fn check_app_token(&self, token: &str) -> Result<String, GraphError> {
        match token.split_once('|') {
            Some((id, secret)) if self.apps.get(id).is_some_and(|s| s == secret) => Ok(id.to_string()),
            Some(_) => Err(GraphError::bad_signature()),
            None => Err(GraphError::cannot_parse()),
        }
    }

    /// Checks a user access token as Graph does before serving a user-token endpoint.
    fn check_user_token(&self, token: &str, now: i64) -> Result<TokenRecord, GraphError> {
        let record = self.token(token).ok_or_else(GraphError::cannot_parse)?;
        if record.revoked {
            return Err(GraphError::token_invalidated());
        }
        if now >= record.expires_at {
            return Err(GraphError::token_expired(record.expires_at, now));
        }
        Ok(record)
    }
}

/// A Graph API error, rendered as `{"error": {...}}` with Graph's headers.
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    status: StatusCode,
    kind: &'static str,
    code: u32,
    subcode: Option<u32>,
    message: String,
    transient: bool,
}

impl GraphError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, code: u32, message: impl Into<String>) -> GraphError {
        GraphError { status, kind, code, subcode: None, message: message.into(), transient: false }
    }

    pub(crate) fn transient(mut self) -> GraphError {
        self.transient = true;
        self
    }

    fn subcode(mut self, subcode: u32) -> GraphError {
        self.subcode = Some(subcode);
        self
    }

    fn oauth(code: u32, message: impl Into<String>) -> GraphError {
        GraphError::new(StatusCode::BAD_REQUEST, "OAuthException", code, message)
    }

    /// `(#100) ...`: a bad or missing parameter.
    fn param(message: impl Into<String>) -> GraphError {
        GraphError::oauth(100, message)
    }

    fn no_active_token() -> GraphError {
        GraphError::oauth(2500, "An active access token must be used to query information about the current user.")
    }

    fn token_required() -> GraphError {
        GraphError::oauth(104, "An access token is required to request this resource.")
    }

    fn cannot_parse() -> GraphError {
        GraphError::oauth(190, "Invalid OAuth access token - Cannot parse access token")
    }

    fn bad_signature() -> GraphError {
        GraphError::oauth(190, "Invalid OAuth access token signature.")
    }

    fn token_expired(expires_at: i64, now: i64) -> GraphError {
        GraphError::oauth(190, expired_message(expires_at, now)).subcode(463)
    }

    fn token_invalidated() -> GraphError {
        GraphError::oauth(190, INVALIDATED_MESSAGE).subcode(460)
    }

    fn bad_proof() -> GraphError {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "GraphMethodException",
            100,
            "Invalid appsecret_proof provided in the API argument",
        )
    }

    fn unknown_path(components: &str) -> GraphError {
        GraphError::oauth(2500, format!("Unknown path components: {components}"))
    }

    fn unsupported(method: &Method, object: Option<&str>) -> GraphError {
        let verb = method.as_str().to_ascii_lowercase();
        let message = match object {
            Some(id) => format!(
                "Unsupported {verb} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
            None => format!(
                "Unsupported {verb} request. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
        };
        let error = GraphError::new(StatusCode::BAD_REQUEST, "GraphMethodException", 100, message);
        if object.is_some() {
            error.subcode(33)
        } else {
            error
        }
    }
}

const INVALIDATED_MESSAGE: &str = "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.";

fn expired_message(expires_at: i64, now: i64) -> String {
    format!(
        "Error validating access token: Session has expired on {}. The current time is {}.",
        graph_date(expires_at),
        graph_date(now)
    )
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let trace_id = random_alnum(11);
        let mut error = Map::new();
        error.insert("message".into(), Value::from(self.message.clone()));
        error.insert("type".into(), Value::from(self.kind));
        if self.transient {
            error.insert("is_transient".into(), Value::from(true));
        }
        error.insert("code".into(), Value::from(self.code));
        if let Some(subcode) = self.subcode {
            error.insert("error_subcode".into(), Value::from(subcode));
        }
        error.insert("fbtrace_id".into(), Value::from(trace_id.clone()));
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&trace_id) {
            headers.insert("x-fb-trace-id", value);
        }
        if self.status.is_client_error() {
            let reason = if self.code == 190 { "invalid_token" } else { "invalid_request" };
            let message = self.message.replace(['"', '\\'], "'");
            let value = format!("OAuth \"Facebook Platform\" \"{reason}\" \"{message}\"");
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// Serves one Graph request (faults already applied by the caller).
pub(crate) fn handle(fb: &Facebook, parts: &Parts, body: &Bytes) -> Result<Response, GraphError> {
    let params = params(parts, body)?;
    let token = access_token(&params, &parts.headers);
    let mut segments: Vec<&str> = parts.uri.path().split('/').filter(|s| !s.is_empty()).collect();
    if segments.first().is_some_and(|s| is_version(s)) {
        segments.remove(0);
    }
    let method = &parts.method;
    match segments.as_slice() {
        ["me"] if method == Method::GET => me(fb, &params, token).map(IntoResponse::into_response),
        ["debug_token"] if method == Method::GET => debug_token(fb, &params, token).map(IntoResponse::into_response),
        [app_id, "accounts", "test-users"] if method == Method::POST => {
            create_test_user(fb, app_id, &params, token).map(IntoResponse::into_response)
        }
        ["me"] | ["debug_token"] => Err(GraphError::unsupported(method, None)),
        [app_id, "accounts", "test-users"] => Err(GraphError::unsupported(method, Some(app_id))),
        [_, rest @ ..] if !rest.is_empty() => Err(GraphError::unknown_path(&format!("/{}", rest.join("/")))),
        _ => Err(GraphError::unknown_path(&format!("/{}", segments.join("/")))),
    }
}

/// `v\d+\.\d+`
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let Some((major, minor)) = rest.split_once('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

/// Query parameters, plus the form body of a POST (Graph accepts parameters in either).
fn params(parts: &Parts, body: &Bytes) -> Result<HashMap<String, String>, GraphError> {
    let mut params = HashMap::new();
    if let Some(query) = parts.uri.query() {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query).map_err(|_| GraphError::param("(#100) Invalid query string"))?;
        params.extend(pairs);
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form && !body.is_empty() {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| GraphError::param("(#100) Invalid form body"))?;
        params.extend(pairs);
    }
    Ok(params)
}

/// The access token from `access_token=`, else from `Authorization: Bearer|OAuth <token>`.
fn access_token(params: &HashMap<String, String>, headers: &HeaderMap) -> Option<String> {
    if let Some(token) = params.get("access_token").filter(|t| !t.is_empty()) {
        return Some(token.clone());
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth");
    (known && !token.is_empty()).then(|| token.to_string())
}

/// The node `/me` stands for, by the kind of token: Graph's `metadata.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeType {
    User,
    Page,
    Application,
}

impl NodeType {
    fn metadata_type(self) -> &'static str {
        match self {
            NodeType::User => "user",
            NodeType::Page => "page",
            NodeType::Application => "application",
        }
    }
}

/// `metadata=1` (Graph's introspection): the answer then carries `metadata.type`.
fn wants_metadata(params: &HashMap<String, String>) -> Result<bool, GraphError> {
    match params.get("metadata").map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "1" || v == "true" => Ok(true),
        Some(v) if v == "0" || v == "false" => Ok(false),
        Some(_) => Err(GraphError::param("(#100) Param metadata must be a boolean")),
    }
}

/// Adds `metadata: {"type": ...}` when asked for with `metadata=1`.
fn with_metadata(mut out: Map<String, Value>, node: NodeType, wanted: bool) -> Json<Value> {
    if wanted {
        out.insert("metadata".into(), json!({ "type": node.metadata_type() }));
    }
    Json(Value::Object(out))
}

/// `/me` of a Page or app token: the Page or the application is "me". Only `id`, `name` and (for
/// a Page) `picture` are answered; user fields such as `email` are left out.
fn me_as_node(
    node: NodeType,
    id: &str,
    name: &str,
    params: &HashMap<String, String>,
    now: i64,
) -> Result<Json<Value>, GraphError> {
    let metadata = wants_metadata(params)?;
    let fields = params.get("fields").map(String::as_str).unwrap_or("id,name");
    let mut out = Map::new();
    for field in split_fields(fields) {
        match field_name(field) {
            "id" => {}
            "name" => {
                out.insert("name".into(), Value::from(name));
            }
            "picture" if node == NodeType::Page => {
                out.insert("picture".into(), picture(id, field, now));
            }
            "email" | "first_name" | "middle_name" | "last_name" | "short_name" | "picture" => {}
            other => {
                let kind = if node == NodeType::Page { "Page" } else { "Application" };
                return Err(GraphError::param(format!(
                    "(#100) Tried accessing nonexisting field ({other}) on node type ({kind})"
                )));
            }
        }
    }
    out.insert("id".into(), Value::from(id));
    Ok(with_metadata(out, node, metadata))
}

/// `GET /me`
fn me(fb: &Facebook, params: &HashMap<String, String>, token: Option<String>) -> Result<Json<Value>, GraphError> {
    let token = token.ok_or_else(GraphError::no_active_token)?;
    let now = now();
    if token.contains('|') {
        // An app token: "me" is the application.
        let app_id = fb.check_app_token(&token)?;
        return me_as_node(NodeType::Application, &app_id, &application_name(&app_id), params, now);
    }
    let record = fb.check_user_token(&token, now)?;
    if let Some(proof) = params.get("appsecret_proof") {
        let secret = fb.apps.get(&record.app_id).map(String::as_str).unwrap_or_default();
        if !proof_matches(secret, &token, proof) {
            return Err(GraphError::bad_proof());
        }
    }
    if let Some(page_id) = &record.page {
        let page = fb.page(page_id).ok_or_else(GraphError::cannot_parse)?;
        return me_as_node(NodeType::Page, page_id, &page.name, params, now);
    }
    let metadata = wants_metadata(params)?;
    let person = fb.person(&record.person).ok_or_else(GraphError::cannot_parse)?;
    let asid = fb.app_scoped_user_id(&record.person, &record.app_id);
    let fields = params.get("fields").map(String::as_str).unwrap_or("id,name");

    let mut out = Map::new();
    for field in split_fields(fields) {
        let name = field_name(field);
        let value = match name {
            "id" => Some(Value::from(asid.clone())),
            "name" => Some(Value::from(person.name.clone())),
            "email" => person.email.clone().map(Value::from),
            "first_name" => person.name_part(NamePart::First).map(Value::from),
            "middle_name" => person.name_part(NamePart::Middle).map(Value::from),
            "last_name" => person.name_part(NamePart::Last).map(Value::from),
            "short_name" => person.name_part(NamePart::First).map(Value::from),
            "picture" => Some(picture(&asid, field, now)),
            _ => {
                return Err(GraphError::param(format!(
                    "(#100) Tried accessing nonexisting field ({name}) on node type (User)"
                )))
            }
        };
        if let Some(value) = value {
            out.insert(name.to_string(), value);
        }
    }
    // Graph always answers with the id, even when it was not asked for.
    out.entry("id").or_insert_with(|| Value::from(asid));
    Ok(with_metadata(out, NodeType::User, metadata))
}

/// Lowercase-hex HMAC-SHA256(key = app secret, msg = access token), compared in constant time.
fn proof_matches(secret: &str, token: &str, proof: &str) -> bool {
    let Ok(given) = hex::decode(proof.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(token.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// Splits `id,name,picture.type(large){url,width}` at top-level commas.
fn split_fields(fields: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in fields.char_indices() {
        match c {
            '(' | '{' => depth += 1,
            ')' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(fields[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(fields[start..].trim());
    out.retain(|f| !f.is_empty());
    out
}

/// `picture.type(large){url}` -> `picture`
fn field_name(field: &str) -> &str {
    let end = field.find(['.', '(', '{']).unwrap_or(field.len());
    field[..end].trim()
}

/// The `picture` edge, sized loosely after `type(...)`, `width(...)` and `height(...)`.
fn picture(asid: &str, field: &str, now: i64) -> Value {
    let modifier = |key: &str| -> Option<&str> {
        let start = field.find(&format!("{key}("))? + key.len() + 1;
        let len = field[start..].find(')')?;
        Some(&field[start..start + len])
    };
    let mut size: u32 = match modifier("type") {
        Some("large") => 200,
        Some("normal") => 100,
        _ => 50,
    };
    for key in ["width", "height"] {
        if let Some(n) = modifier(key).and_then(|v| v.trim().parse::<u32>().ok()) {
            size = n.clamp(1, 2048);
        }
    }
    let url = format!(
        "https://platform-lookaside.fbsbx.com/platform/profilepic/?asid={asid}&height={size}&width={size}&ext={}&hash=AT{}",
        now + 30 * 24 * 3600,
        random_alnum(22)
    );
    json!({ "data": { "height": size, "is_silhouette": false, "url": url, "width": size } })
}

fn application_name(app_id: &str) -> String {
    format!("Emulated app {app_id}")
}

/// `GET /debug_token?input_token=...` with an app access token.
fn debug_token(
    fb: &Facebook,
    params: &HashMap<String, String>,
    token: Option<String>,
) -> Result<Json<Value>, GraphError> {
    let token = token.ok_or_else(GraphError::token_required)?;
    if !token.contains('|') {
        if fb.token(&token).is_some() {
            return Err(GraphError::param(
                "(#100) You must provide an app access token, or a user access token that is an owner or developer of the app",
            ));
        }
        return Err(GraphError::cannot_parse());
    }
    fb.check_app_token(&token)?;
    let input = params
        .get("input_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| GraphError::param("(#100) The parameter input_token is required"))?;

    if input.contains('|') {
        // Debugging an app token.
        return Ok(Json(match fb.check_app_token(input) {
            Ok(app_id) => json!({ "data": {
                "app_id": app_id,
                "type": "APP",
                "application": application_name(&app_id),
                "is_valid": true,
                "scopes": [],
            }}),
            Err(_) => invalid_input_token(),
        }));
    }

    let Some(record) = fb.token(input) else {
        return Ok(Json(invalid_input_token()));
    };
    let now = now();
    let mut data = Map::new();
    data.insert("app_id".into(), Value::from(record.app_id.clone()));
    data.insert("type".into(), Value::from(if record.page.is_some() { "PAGE" } else { "USER" }));
    if let Some(page) = &record.page {
        data.insert("profile_id".into(), Value::from(page.clone()));
    }
    data.insert("application".into(), Value::from(application_name(&record.app_id)));
    data.insert("data_access_expires_at".into(), Value::from(record.issued_at + DATA_ACCESS_TTL));
    data.insert("expires_at".into(), Value::from(record.expires_at));
    data.insert("issued_at".into(), Value::from(record.issued_at));
    data.insert("user_id".into(), Value::from(fb.app_scoped_user_id(&record.person, &record.app_id)));
    let error = if record.revoked {
        Some(json!({ "code": 190, "message": INVALIDATED_MESSAGE, "subcode": 460 }))
    } else if now >= record.expires_at {
        Some(json!({
            "code": 190,
            "message": expired_message(record.expires_at, now),
            "subcode": 463,
        }))
    } else {
        None
    };
    match error {
        Some(error) => {
            data.insert("error".into(), error);
            data.insert("is_valid".into(), Value::from(false));
            data.insert("scopes".into(), json!([]));
        }
        None => {
            data.insert("is_valid".into(), Value::from(true));
            data.insert("scopes".into(), json!(SCOPES));
        }
    }
    Ok(Json(json!({ "data": data })))
}

fn invalid_input_token() -> Value {
    json!({ "data": {
        "error": { "code": 190, "message": "Invalid OAuth access token." },
        "is_valid": false,
        "scopes": [],
    }})
}

/// `POST /{app_id}/accounts/test-users?installed=true&name=...` with that app's access token.
fn create_test_user(
    fb: &Facebook,
    app_id: &str,
    params: &HashMap<String, String>,
    token: Option<String>,
) -> Result<Json<Value>, GraphError> {
    if !fb.has_app(app_id) {
        return Err(GraphError::unsupported(&Method::POST, Some(app_id)));
    }
    let token = token.ok_or_else(GraphError::token_required)?;
    let app_token_error = || GraphError::oauth(15, "(#15) This method must be called with an app access_token.");
    if !token.contains('|') {
        return Err(match fb.token(&token) {
            Some(_) => app_token_error(),
            None => GraphError::cannot_parse(),
        });
    }
    if fb.check_app_token(&token)? != app_id {
        return Err(app_token_error());
    }
    let installed = match params.get("installed").map(|v| v.trim().to_ascii_lowercase()) {
        None => true,
        Some(v) if v == "true" || v == "1" => true,
        Some(v) if v == "false" || v == "0" => false,
        Some(_) => return Err(GraphError::param("(#100) Param installed must be a boolean")),
    };
    let name = params.get("name").map(|n| n.trim()).filter(|n| !n.is_empty()).unwrap_or("Open Graph Test User");
    let local: String = name
        .split_whitespace()
        .map(|w| w.chars().filter(char::is_ascii_alphanumeric).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
        .to_ascii_lowercase();
    let local = if local.is_empty() { "test_user".to_string() } else { local };
    let email = format!("{local}_{}@tfbnw.net", random_digits(8));
    let person = fb.create_person(name, Some(&email));
    let id = fb.app_scoped_user_id(&person, app_id);

    let mut out = Map::new();
    out.insert("id".into(), Value::from(id.clone()));
    if installed {
        let access_token = fb
            .issue_token(&person, app_id, TEST_USER_TOKEN_TTL)
            .map_err(|_| GraphError::unsupported(&Method::POST, Some(app_id)))?;
        out.insert("access_token".into(), Value::from(access_token));
    }
    out.insert(
        "login_url".into(),
        Value::from(format!("https://developers.facebook.com/checkpoint/test-user-login/{id}/")),
    );
    out.insert("email".into(), Value::from(email));
    out.insert("password".into(), Value::from(random_alnum(16)));
    Ok(Json(Value::Object(out)))
}

/// Graph's date format in error messages, e.g. `Tuesday, 05-Mar-24 10:00:00 UTC`
/// (Graph itself writes Pacific time, `PST`/`PDT`).
fn graph_date(ts: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (year, month, day) = shared::clock::civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = (days + 4).rem_euclid(7);
    format!(
        "{}, {:02}-{}-{:02} {:02}:{:02}:{:02} UTC",
        WEEKDAYS[weekday as usize],
        day,
        MONTHS[(month - 1) as usize],
        year.rem_euclid(100),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_formatted_like_graph() {
        assert_eq!(graph_date(0), "Thursday, 01-Jan-70 00:00:00 UTC");
        assert_eq!(graph_date(1_709_632_800), "Tuesday, 05-Mar-24 10:00:00 UTC");
        assert_eq!(graph_date(951_782_400), "Tuesday, 29-Feb-00 00:00:00 UTC");
    }

    #[test]
    fn versions() {
        assert!(is_version("v22.0"));
        assert!(is_version("v2.12"));
        assert!(!is_version("v22"));
        assert!(!is_version("22.0"));
        assert!(!is_version("v.0"));
        assert!(!is_version("me"));
    }

    #[test]
    fn fields_split_at_top_level_commas() {
        assert_eq!(
            split_fields("id, name,picture.type(large){url,width},email,"),
            vec!["id", "name", "picture.type(large){url,width}", "email"]
        );
        assert_eq!(field_name("picture.type(large){url,width}"), "picture");
        assert_eq!(field_name("email"), "email");
    }

    #[test]
    fn names_are_split() {
        let p = Person { name: "Mary Ann  Smith".into(), email: None };
        assert_eq!(p.name_part(NamePart::First).as_deref(), Some("Mary"));
        assert_eq!(p.name_part(NamePart::Middle).as_deref(), Some("Ann"));
        assert_eq!(p.name_part(NamePart::Last).as_deref(), Some("Smith"));
        let p = Person { name: "Cher".into(), email: None };
        assert_eq!(p.name_part(NamePart::First).as_deref(), Some("Cher"));
        assert_eq!(p.name_part(NamePart::Middle), None);
        assert_eq!(p.name_part(NamePart::Last), None);
    }

    #[test]
    fn proof_is_checked() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").expect("key");
        mac.update(b"EAAtoken");
        let proof = hex::encode(mac.finalize().into_bytes());
        assert!(proof_matches("secret", "EAAtoken", &proof));
        assert!(!proof_matches("other", "EAAtoken", &proof));
        assert!(!proof_matches("secret", "EAAtoken", "zz"));
        assert!(!proof_matches("secret", "EAAtoken", ""));
    }

    #[test]
    fn app_scoped_ids_are_stable_and_per_app() {
        let fb = Facebook::new([("1".to_string(), "s".to_string())]);
        let a = fb.app_scoped_user_id("p", "1");
        assert_eq!(a, fb.app_scoped_user_id("p", "1"));
        assert_ne!(a, fb.app_scoped_user_id("p", "2"));
        assert_eq!(a.len(), 17);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
    }
}

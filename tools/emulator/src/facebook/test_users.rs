//! `POST /{app_id}/accounts/test-users?installed=true&name=...`: Graph's test-user API, with that
//! app's access token.

use std::collections::HashMap;

use axum::http::Method;
use axum::Json;
use serde_json::{Map, Value};

use super::{Facebook, GraphError};
use crate::util::{random_alnum, random_digits};

/// Lifetime of the tokens the test-user API hands out (Graph's long-lived tokens: 60 days).
const TEST_USER_TOKEN_TTL: i64 = 60 * 24 * 3600;

/// `POST /{app_id}/accounts/test-users?installed=true&name=...` with that app's access token.
pub(super) fn create_test_user(
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

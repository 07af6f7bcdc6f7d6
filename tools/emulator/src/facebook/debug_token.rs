//! `GET /debug_token?input_token=...`: Graph's token introspection, with an app access token.

use std::collections::HashMap;

use axum::Json;
use serde_json::{json, Map, Value};

use super::error::{expired_message, INVALIDATED_MESSAGE};
use super::{application_name, Facebook, GraphError};
use crate::util::now;

/// Graph's data access expiry: 90 days after the user last used the app.
const DATA_ACCESS_TTL: i64 = 90 * 24 * 3600;
/// Scopes every emulated token is granted.
const SCOPES: [&str; 2] = ["email", "public_profile"];

/// `GET /debug_token?input_token=...` with an app access token.
pub(super) fn debug_token(
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

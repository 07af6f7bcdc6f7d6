//! `GET /me`: the user of a user token, the Page of a Page token or the application of an app
//! token, with the fields asked for (`fields=`, Graph's field syntax), `appsecret_proof` checked
//! and `metadata=1` introspection.

use std::collections::HashMap;

use axum::Json;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::{application_name, Facebook, GraphError, NamePart};
use crate::util::{now, random_alnum};

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
pub(super) fn me(
    fb: &Facebook,
    params: &HashMap<String, String>,
    token: Option<String>,
) -> Result<Json<Value>, GraphError> {
    let token = token.ok_or_else(GraphError::no_active_token)?;
    let now = now();
    if token.contains('|') {
        // An app token: "me" is the application.
        let app_id = fb.check_app_token(&token)?;
        return me_as_node(NodeType::Application, &app_id, &application_name(&app_id), params, now);
    }
    let record = fb.check_user_token(&token, now)?;
    if let Some(proof) = params.get("appsecret_proof") {
        let secret = fb.app_secret(&record.app_id).unwrap_or_default();
        if !proof_matches(&secret, &token, proof) {
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
pub(super) fn proof_matches(secret: &str, token: &str, proof: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn proof_is_checked() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").expect("key");
        mac.update(b"EAAtoken");
        let proof = hex::encode(mac.finalize().into_bytes());
        assert!(proof_matches("secret", "EAAtoken", &proof));
        assert!(!proof_matches("other", "EAAtoken", &proof));
        assert!(!proof_matches("secret", "EAAtoken", "zz"));
        assert!(!proof_matches("secret", "EAAtoken", ""));
    }
}

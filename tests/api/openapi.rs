//! `openapi.yaml` (repository root) describes exactly the HTTP API of `template.yaml`: the same
//! (method, path) pairs, every path parameter and authorizer identity header declared, and every
//! operation documents at least one client error (4xx) with a body schema. `scripts/schemathesis`
//! checks the answers themselves against it.

use std::collections::BTreeSet;

use local_stack::dynamodb_local::repo_root;
use local_stack::{Route, Template};
use serde_yaml::Value;

/// The operation keys of an OpenAPI 3.0 path item.
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn openapi() -> Value {
    let path = repo_root().join("openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("openapi.yaml is not YAML: {e}"))
}

fn template() -> Template {
    Template::load(repo_root().join("template.yaml")).expect("template.yaml")
}

/// Follows a local `$ref` (`#/components/...`) until a value that is not a reference.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let pointer = reference.strip_prefix("#/").unwrap_or_else(|| panic!("only local refs: {reference}"));
        value = pointer.split('/').fold(doc, |v, key| {
            let key = key.replace("~1", "/").replace("~0", "~");
            v.get(key.as_str()).unwrap_or_else(|| panic!("unresolved $ref {reference}"))
        });
    }
    panic!("$ref chain too long")
}

/// Every operation: (upper-case method, path, operation object).
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let paths = doc.get("paths").and_then(Value::as_mapping).expect("openapi.yaml has `paths`");
    let mut out = Vec::new();
    for (path, item) in paths {
        let path = path.as_str().expect("path keys are strings");
        let item = resolve(doc, item);
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method.to_ascii_uppercase(), path.to_owned(), op));
            }
        }
    }
    out
}

/// The declared parameters of an operation (and of its path item), as (in, lower-case name).
fn parameters(doc: &Value, path: &str, op: &Value) -> BTreeSet<(String, String)> {
    let item = &doc["paths"][path];
    [item.get("parameters"), op.get("parameters")]
        .into_iter()
        .flatten()
        .flat_map(|list| list.as_sequence().expect("parameters is a list"))
        .map(|p| resolve(doc, p))
        .map(|p| {
            let field = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_else(|| panic!("parameter without {k}"));
            (field("in").to_owned(), field("name").to_ascii_lowercase())
        })
        .collect()
}

/// Whether the documented operation `(method, path)` is served by `route`: the same method, or
/// `ANY` on the same path (OpenAPI has no `ANY`: such a route documents the methods it answers).
fn serves(route: &Route, method: &str, path: &str) -> bool {
    route.path == path && (route.method == method || route.method == "ANY")
}

#[test]
fn openapi_operations_are_exactly_the_template_routes() {
    let doc = openapi();
    assert_eq!(doc["openapi"].as_str(), Some("3.0.3"));
    let documented: BTreeSet<(String, String)> = operations(&doc).into_iter().map(|(m, p, _)| (m, p)).collect();
    let routes = template().routes();
    // Every route is documented: a method route as itself, an `ANY` route by at least one method.
    let missing: Vec<String> = routes
        .iter()
        .filter(|r| {
            !documented
                .iter()
                .any(|(m, p)| if r.method == "ANY" { *p == r.path } else { *m == r.method && *p == r.path })
        })
        .map(Route::route_key)
        .collect();
    // Every documented operation is served: by its method's route, else by the path's `ANY` route.
    let extra: Vec<_> = documented.iter().filter(|(m, p)| !routes.iter().any(|r| serves(r, m, p))).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "openapi.yaml and template.yaml disagree: routes not documented {missing:?}, documented but not routes {extra:?}"
    );
}

#[test]
fn openapi_declares_path_parameters_and_authorizer_headers() {
    let doc = openapi();
    let template = template();
    let authorizers = template.authorizers();
    for route in template.routes() {
        let ops: Vec<_> = operations(&doc).into_iter().filter(|(m, p, _)| serves(&route, m, p)).collect();
        assert!(!ops.is_empty(), "{} is not documented", route.route_key());
        for (_, path, op) in ops {
            let declared = parameters(&doc, &path, op);
            for segment in route.path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    let name = name.trim_end_matches('+').to_ascii_lowercase();
                    assert!(
                        declared.contains(&("path".to_owned(), name.clone())),
                        "{}: no path parameter {name}",
                        route.route_key()
                    );
                }
            }
            if let Some(authorizer) = &route.authorizer {
                for header in &authorizers[authorizer].identity_headers {
                    let header = header.to_ascii_lowercase();
                    assert!(
                        declared.contains(&("header".to_owned(), header.clone())),
                        "{}: the {authorizer} identity header {header} is not a parameter",
                        route.route_key()
                    );
                }
            }
        }
    }
}

#[test]
fn openapi_every_operation_documents_a_client_error_with_a_schema() {
    let doc = openapi();
    let routes = template().routes();
    for (method, path, op) in operations(&doc) {
        // Served only by an `ANY` fallback route: a method the path does not serve, never a 200.
        let fallback_only = !routes.iter().any(|r| r.method == method && r.path == path);
        let responses = op.get("responses").and_then(Value::as_mapping).expect("responses");
        let mut client_errors = 0;
        for (status, response) in responses {
            let status = match status {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => panic!("{method} {path}: status {other:?}"),
            };
            // Every answer of the service and of API Gateway is JSON, but the avatar route's
            // picture (an SVG) and its redirects (no body), and a deletion's 204 (no body).
            let content = resolve(&doc, response).get("content").and_then(Value::as_mapping);
            match content {
                None => assert!(
                    (status.starts_with('3') && path == "/avatar/{username}")
                        || (status == "204" && method == "DELETE"),
                    "{method} {path} {status}: no content"
                ),
                Some(media) => {
                    for (media_type, m) in media {
                        let media_type = media_type.as_str().unwrap_or_default();
                        assert!(
                            media_type == "application/json"
                                || (media_type == "image/svg+xml" && path == "/avatar/{username}"),
                            "{method} {path} {status}: {media_type}"
                        );
                        assert!(m.get("schema").is_some(), "{method} {path} {status}: {media_type} has no schema");
                    }
                }
            }
            if status.len() == 3 && status.starts_with('4') {
                client_errors += 1;
            }
        }
        assert!(client_errors > 0, "{method} {path} documents no 4xx response");
        if fallback_only {
            assert!(
                responses.contains_key("405") || responses.contains_key("400"),
                "{method} {path}: a fallback operation documents its 400 or 405"
            );
        } else {
            let success = if method == "DELETE" { "204" } else { "200" };
            assert!(responses.contains_key(success), "{method} {path} documents no {success} response");
        }
    }
}

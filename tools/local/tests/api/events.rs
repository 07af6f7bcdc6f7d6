//! Every `events/<function>/<status>-<case>.json` sample, fed to its function's handler in
//! process exactly as `sam local invoke -e` would deliver it, must answer the status its name
//! documents. The routes the samples carry must be the template's.

use std::path::PathBuf;

use lambda_http::request::from_str;
use local_stack::dynamodb_local::repo_root;
use local_stack::gateway::function_packages;
use local_stack::Template;

use crate::helpers::*;

fn samples(function: &str) -> Vec<(PathBuf, u16)> {
    let dir = repo_root().join("events").join(function);
    let mut out: Vec<(PathBuf, u16)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            let status = name
                .split('-')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{name}: name must start with the status"));
            (p, status)
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn every_event_sample_answers_its_documented_status() {
    let t = spawn_app().await;
    let template = Template::load(repo_root().join("template.yaml")).expect("template");
    let mut seen = 0;
    for package in function_packages() {
        let route_keys: Vec<String> =
            template.routes().iter().filter(|r| r.package == package).map(|r| r.route_key()).collect();
        let cases = samples(package);
        assert!(
            cases.iter().any(|(_, s)| *s == 200)
                && cases.iter().any(|(_, s)| *s == 401)
                && cases.iter().any(|(_, s)| *s == 400),
            "{package}: success, rejected and malformed samples"
        );
        for (path, expected) in cases {
            let text = std::fs::read_to_string(&path).expect("read");
            let event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            let key = event["routeKey"].as_str().unwrap_or_default();
            assert!(
                route_keys.iter().any(|k| k == key),
                "{}: routeKey {key} is not a route of {package} in template.yaml",
                path.display()
            );
            let req = from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let resp = match package {
                "facebook-login" => facebook_login::handler(&t.app, req).await,
                "login" => login::handler(&t.app, req).await,
                other => panic!("no handler for {other}"),
            };
            assert_eq!(resp.status().as_u16(), expected, "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} samples");
}

#[test]
fn the_gateway_serves_exactly_the_template_functions() {
    let template = Template::load(repo_root().join("template.yaml")).expect("template");
    let mut in_template: Vec<String> = template.routes().into_iter().map(|r| r.package).collect();
    in_template.sort();
    in_template.dedup();
    let mut served: Vec<String> = function_packages().into_iter().map(String::from).collect();
    served.sort();
    assert_eq!(in_template, served);
}

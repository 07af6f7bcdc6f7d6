//! Which provider code each function links (issue 15, "each function linking only what it
//! uses"): the features of `shared` each function crate enables. A provider login links its own
//! provider, `login` all of them, the deleting functions Apple and Facebook (the revocations), and
//! the session functions none, and so no HTTP client (reqwest) and no JWT library at all. A
//! function links the SSM client (`ssm`) only if its `SECRET_PARAMETERS` in template.yaml names
//! a secret. The table is checked against the crates' manifests (`cargo metadata`), against the
//! template, and against what cargo resolves for each function alone (`cargo tree`), as
//! `sam build` builds it.

/// The features of `shared` every function crate enables; a function not listed enables none.
pub const SHARED_FEATURES: &[(&str, &[&str])] = &[
    ("facebook-login", &["facebook", "ssm"]),
    ("google-login", &["google", "ssm"]),
    ("twitter-login", &["twitter", "ssm"]),
    ("linkedin-login", &["linkedin", "ssm"]),
    ("apple-login", &["apple", "ssm"]),
    ("github-login", &["github", "ssm"]),
    ("login", &["apple", "facebook", "github", "google", "linkedin", "twitter", "ssm"]),
    // Apple's keys verify its notifications.
    ("apple-notifications", &["apple", "ssm"]),
    // A deletion revokes our Apple refresh token and Facebook permissions.
    ("delete-own-account", &["apple", "facebook", "ssm"]),
    ("delete-self", &["apple", "facebook", "ssm"]),
    ("delete-user", &["apple", "facebook", "ssm"]),
    ("revocation-retry", &["apple", "facebook", "ssm"]),
    // No provider; a secret: the token secrets (user keys, sessions) or Facebook's app secret.
    ("current-user", &["ssm"]),
    ("reset-key", &["ssm"]),
    ("syncano-authorizer", &["ssm"]),
    ("syncano-fallback", &["ssm"]),
    ("facebook-data-deletion", &["ssm"]),
    ("facebook-deauthorize", &["ssm"]),
];

/// The features of `shared` that `function` should enable (sorted).
pub fn expected_features(function: &str) -> Vec<&'static str> {
    let mut features =
        SHARED_FEATURES.iter().find(|(f, _)| *f == function).map(|(_, fs)| fs.to_vec()).unwrap_or_default();
    features.sort_unstable();
    features
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::process::Command;

    use super::*;
    use crate::dynamodb_local::repo_root;

    const PROVIDERS: [&str; 6] = ["apple", "facebook", "github", "google", "linkedin", "twitter"];
    /// `shared`'s feature for the SSM client.
    const SSM: &str = "ssm";
    /// The functions with no provider at all that the issue names.
    const SESSION_FUNCTIONS: [&str; 6] =
        ["me", "logout", "current-user", "reset-key", "syncano-authorizer", "rocketchat-authorizer"];

    fn cargo() -> Command {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(repo_root());
        cmd
    }

    /// Each function crate's `shared` dependency as its manifest declares it: (default features
    /// on, features), by package name.
    fn declared() -> BTreeMap<String, (bool, Vec<String>)> {
        let out = cargo()
            .args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
            .output()
            .expect("cargo metadata");
        assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
        let functions = repo_root().join("functions").canonicalize().expect("functions/");
        let mut declared = BTreeMap::new();
        for package in meta["packages"].as_array().expect("packages") {
            let manifest = package["manifest_path"].as_str().expect("manifest_path");
            if !std::path::Path::new(manifest).starts_with(&functions) {
                continue;
            }
            let name = package["name"].as_str().expect("name").to_string();
            let shared = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .find(|d| d["name"] == "shared" && d["kind"].is_null())
                .unwrap_or_else(|| panic!("{name} does not depend on shared"));
            let mut features: Vec<String> = shared["features"]
                .as_array()
                .expect("features")
                .iter()
                .filter_map(|f| f.as_str())
                .map(String::from)
                .collect();
            features.sort_unstable();
            declared.insert(name, (shared["uses_default_features"] == true, features));
        }
        declared
    }

    #[test]
    fn each_function_enables_exactly_its_providers() {
        let declared = declared();
        assert_eq!(declared.len(), 24, "every crate under functions/: {:?}", declared.keys());
        for (function, _) in SHARED_FEATURES {
            assert!(declared.contains_key(*function), "{function} is in the table but not under functions/");
        }
        for (function, (defaults, features)) in &declared {
            assert!(!defaults, "{function} takes shared's default features (every provider)");
            assert_eq!(features, &expected_features(function), "the features of shared that {function} enables");
        }
        let providers =
            |function: &str| -> Vec<&str> { expected_features(function).into_iter().filter(|f| *f != SSM).collect() };
        for function in SESSION_FUNCTIONS {
            assert!(providers(function).is_empty(), "{function} links no provider");
        }
        for provider in PROVIDERS {
            assert_eq!(providers(&format!("{provider}-login")), [provider]);
        }
        assert_eq!(providers("login"), PROVIDERS);
    }

    /// Whether each function's `SECRET_PARAMETERS` in template.yaml names a secret, by package.
    fn reads_secrets() -> BTreeMap<String, bool> {
        let text = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("template YAML");
        let resources = doc["Resources"].as_mapping().expect("Resources");
        resources
            .values()
            .filter(|r| r["Type"] == "AWS::Serverless::Function")
            .map(|r| {
                let package = r["Metadata"]["BuildProperties"]["Binary"].as_str().expect("Binary").to_string();
                let leaves = r["Properties"]["Environment"]["Variables"]["SECRET_PARAMETERS"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{package}: SECRET_PARAMETERS"));
                (package, leaves.split(',').any(|l| !l.trim().is_empty()))
            })
            .collect()
    }

    /// The SSM client (aws-sdk-ssm, about 240 KB of code) only where a secret is read: a
    /// function without it cannot read one, so its `SECRET_PARAMETERS` must name none.
    #[test]
    fn each_function_links_the_ssm_client_only_if_it_reads_a_secret() {
        let reads = reads_secrets();
        assert_eq!(reads.len(), 24, "every function of the template: {:?}", reads.keys());
        for (function, reads) in &reads {
            assert_eq!(expected_features(function).contains(&SSM), *reads, "{function}: ssm iff it reads a secret");
        }
        assert!(!reads["me"] && reads["facebook-login"]);
    }

    /// What cargo resolves for each function built alone (as `sam build` does, from its crate):
    /// reqwest only with a provider, the JWT library only with an OpenID Connect one (or Apple's
    /// client secrets), the OAuth 1.0a signer only with X, the SSM client only with a secret. One `cargo tree` per function, run
    /// side by side (each ~0.3 s).
    #[test]
    fn each_function_alone_resolves_only_the_libraries_of_its_providers() {
        let functions = declared();
        assert!(!functions.is_empty());
        let trees: Vec<_> = functions
            .into_keys()
            .map(|function| {
                let child = cargo()
                    .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "-f", "{p}", "-p", &function])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("cargo tree");
                (function, child)
            })
            .collect();
        for (function, child) in trees {
            let out = child.wait_with_output().expect("cargo tree");
            assert!(out.status.success(), "cargo tree -p {function}: {}", String::from_utf8_lossy(&out.stderr));
            let tree = String::from_utf8_lossy(&out.stdout);
            let links = |krate: &str| tree.lines().any(|l| l.split_whitespace().next() == Some(krate));
            let features = expected_features(&function);
            let oidc = features.iter().any(|f| ["apple", "facebook", "google", "linkedin"].contains(f));
            let provider = features.iter().any(|f| PROVIDERS.contains(f));
            assert_eq!(links("reqwest"), provider, "{function} links reqwest");
            assert_eq!(links("webpki-roots"), provider, "{function} links webpki-roots");
            assert_eq!(links("jsonwebtoken"), oidc, "{function} links jsonwebtoken");
            assert_eq!(links("oauth1-request"), features.contains(&"twitter"), "{function} links oauth1-request");
            assert_eq!(links("aws-sdk-ssm"), features.contains(&SSM), "{function} links aws-sdk-ssm");
        }
    }
}

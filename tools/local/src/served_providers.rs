//! Which providers each function serves. Every function links every provider (one feature set
//! of `shared` for the provider code, so `sam build` compiles it once: docs/bench.md,
//! "Per-provider features"); what a function serves is its configuration in template.yaml, read
//! at run time. A provider login is configured for its own provider, `login` for all of them,
//! the deleting functions for Facebook and Apple's revocation, Facebook's callbacks for
//! Facebook (its app secret checks their signed requests), and the session functions for none,
//! so they build no HTTP client. What init opens for a function follows from it
//! (`shared::providers::Providers::certain_call`). The table is checked against the template,
//! through the configuration a deployment of it loads, and against the crates' manifests and
//! what cargo resolves for each function alone (`cargo tree`), as `sam build` builds it: the
//! only feature of `shared` a function enables is the SSM client (`ssm`), and only if its
//! `SECRET_PARAMETERS` names a secret.

/// Apple's revocation and code exchange (our own calls to Apple: `APPLE_TEAM_ID` and its group).
pub const APPLE_REVOCATION: &str = "apple-revocation";

/// What each function is configured for: providers (`Provider::as_str`) and
/// [`APPLE_REVOCATION`]; a function not listed is configured for none.
pub const SERVED: &[(&str, &[&str])] = &[
    ("facebook-login", &["facebook"]),
    ("google-login", &["google"]),
    ("twitter-login", &["twitter"]),
    ("linkedin-login", &["linkedin"]),
    ("apple-login", &["apple", APPLE_REVOCATION]),
    ("github-login", &["github"]),
    ("login", &["apple", APPLE_REVOCATION, "facebook", "github", "google", "linkedin", "microsoft", "twitter"]),
    // Apple's keys verify its notifications.
    ("apple-notifications", &["apple"]),
    // A deletion revokes our Apple refresh token and Facebook permissions.
    ("delete-own-account", &[APPLE_REVOCATION, "facebook"]),
    ("delete-self", &[APPLE_REVOCATION, "facebook"]),
    ("delete-user", &[APPLE_REVOCATION, "facebook"]),
    ("revocation-retry", &[APPLE_REVOCATION, "facebook"]),
    // Facebook's app secret checks the signed requests of its callbacks.
    ("facebook-data-deletion", &["facebook"]),
    ("facebook-deauthorize", &["facebook"]),
    // The logins at the backends no function of its own serves: Microsoft deployment-wide
    // (custom providers are an instance's own).
    ("syncano-fallback", &["microsoft"]),
];

/// What `function` is configured for (sorted).
pub fn served(function: &str) -> Vec<&'static str> {
    let mut served = SERVED.iter().find(|(f, _)| *f == function).map(|(_, s)| s.to_vec()).unwrap_or_default();
    served.sort_unstable();
    served
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    use std::process::Command;

    use shared::providers::Providers;
    use shared::Provider;

    use super::*;
    use crate::deployment::Deployment;
    use crate::dynamodb_local::repo_root;
    use crate::template::Template;

    /// `shared`'s feature for the SSM client.
    const SSM: &str = "ssm";
    /// The functions with no provider at all that issue 15 names.
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

    /// No provider is chosen at build time: the only feature of `shared` a function crate may
    /// enable is the SSM client, and it does exactly when it reads a secret (a function without
    /// the client cannot read one, so its `SECRET_PARAMETERS` must name none).
    #[test]
    fn each_function_enables_only_the_ssm_client_and_only_if_it_reads_a_secret() {
        let declared = declared();
        assert_eq!(declared.len(), 26, "every crate under functions/: {:?}", declared.keys());
        let reads = reads_secrets();
        assert_eq!(reads.keys().collect::<Vec<_>>(), declared.keys().collect::<Vec<_>>(), "the template's functions");
        for (function, (defaults, features)) in &declared {
            assert!(!defaults, "{function} takes shared's default features");
            let want: Vec<String> = if reads[function] { vec![SSM.into()] } else { vec![] };
            assert_eq!(features, &want, "the features of shared that {function} enables");
        }
        assert!(!reads["me"] && reads["facebook-login"]);
        for (function, _) in SERVED {
            assert!(declared.contains_key(*function), "{function} is in the table but not under functions/");
        }
    }

    /// Each function's configuration in a deployment of the template (the loopback one the
    /// shipped-binary check runs, its secrets from the SSM stand-in's parameters), by package.
    fn configurations() -> BTreeMap<String, shared::config::Config> {
        let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
        let vars = crate::demo::Apps::random().stack_vars(
            "t",
            "http://127.0.0.1:3000",
            "http://127.0.0.1:8",
            "http://127.0.0.1:9",
        );
        let deployment = Deployment {
            template: &template,
            vars: &vars,
            parameter_overrides: HashMap::new(),
            ssm_endpoint: "http://127.0.0.1:7".into(),
        };
        let ssm = deployment.ssm_parameters();
        template
            .function_defs()
            .into_iter()
            .map(|def| {
                let mut env: HashMap<String, String> =
                    deployment.environment(&def.logical_id).expect("resolves").into_iter().collect();
                let path = env.get("SECRETS_PARAMETER_PATH").cloned().unwrap_or_default();
                let leaves = env.get("SECRET_PARAMETERS").cloned().unwrap_or_default();
                for leaf in leaves.split(',').map(str::trim).filter(|l| !l.is_empty()) {
                    if let Some(value) = ssm.get(&format!("{path}/{leaf}")) {
                        let var = shared::config::parameter_store::allowed_variable(leaf).expect("allowlisted");
                        env.insert(var.to_string(), value.clone());
                    }
                }
                let config = shared::config::Config::from_lookup(|k| env.get(k).cloned())
                    .unwrap_or_else(|e| panic!("{}: {e}", def.package));
                (def.package, config)
            })
            .collect()
    }

    /// The template configures each function for exactly the providers of the table; from that
    /// configuration a provider login (and `apple-notifications`) opens its provider's
    /// connection in init, a function configured for several opens none, and a session function
    /// builds no verifier (and so no HTTP client).
    #[test]
    fn each_function_is_configured_for_exactly_its_providers() {
        let configs = configurations();
        assert_eq!(configs.len(), 26);
        for (function, config) in &configs {
            let mut configured: Vec<&str> =
                Provider::ALL.into_iter().filter(|p| config.serves(*p)).map(|p| p.as_str()).collect();
            if config.apple_revocation.is_some() {
                configured.push(APPLE_REVOCATION);
            }
            if config.serves(Provider::Microsoft) {
                configured.push(Provider::Microsoft.as_str());
            }
            configured.sort_unstable();
            assert_eq!(configured, served(function), "what the template configures {function} for");

            let providers = Providers::new(config).expect("providers");
            let kinds = configured.iter().map(|s| s.trim_end_matches("-revocation")).collect::<BTreeSet<_>>();
            // Microsoft's first call depends on the token's tenant: none is certain.
            let certain = kinds.len() == 1 && !kinds.contains(Provider::Microsoft.as_str());
            assert_eq!(providers.certain_call().is_some(), certain, "{function}'s call certain at init");
        }
        for function in SESSION_FUNCTIONS {
            assert!(served(function).is_empty(), "{function} is configured for no provider");
        }
        for provider in Provider::ALL {
            let login = format!("{}-login", provider.as_str());
            let providers = Providers::new(&configs[&login]).expect("providers");
            let (_, url) = providers.certain_call().expect("certain");
            assert!(
                url.starts_with("http://127.0.0.1:9/"),
                "{login} opens the provider's (the emulator's) connection: {url}"
            );
        }
    }

    /// What cargo resolves for each function built alone (as `sam build` does, from its crate):
    /// the same libraries for every function, the SSM client only with a secret. One
    /// `cargo tree` per function, run side by side (each ~0.3 s).
    #[test]
    fn each_function_alone_resolves_the_same_libraries_but_the_ssm_client() {
        let functions = declared();
        assert!(!functions.is_empty());
        let trees: Vec<_> = functions
            .into_iter()
            .map(|(function, (_, features))| {
                let child = cargo()
                    .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "-f", "{p}", "-p", &function])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("cargo tree");
                (function, features, child)
            })
            .collect();
        let mut libraries: Option<BTreeSet<String>> = None;
        for (function, features, child) in trees {
            let out = child.wait_with_output().expect("cargo tree");
            assert!(out.status.success(), "cargo tree -p {function}: {}", String::from_utf8_lossy(&out.stderr));
            let tree = String::from_utf8_lossy(&out.stdout);
            let crates: BTreeSet<String> = tree
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|c| *c != function && *c != "aws-sdk-ssm")
                .map(String::from)
                .collect();
            let links = |krate: &str| tree.lines().any(|l| l.split_whitespace().next() == Some(krate));
            assert_eq!(links("aws-sdk-ssm"), features.contains(&SSM.to_string()), "{function} links aws-sdk-ssm");
            for krate in ["reqwest", "webpki-roots", "jsonwebtoken", "oauth1-request"] {
                assert!(links(krate), "{function} links {krate} (every provider)");
            }
            match &libraries {
                None => libraries = Some(crates),
                Some(first) => assert_eq!(&crates, first, "{function} resolves other libraries than the others"),
            }
        }
    }
}

//! The one list of the functions the local gateway runs in process: package name → handler.
//!
//! `template.yaml` is the source of truth for which functions exist; this list has to name their
//! Rust handlers, so it is written out, and the tests below check it against the template and
//! `functions/*` both ways. Adding a function: its crate under `functions/`, its resource in the
//! template, a path dependency in `tools/local/Cargo.toml`, and one line here.

use std::collections::HashMap;
use std::sync::Arc;

use shared::App;

use super::{handler_fn, Authorizer, Handler};

/// How the gateway calls a function.
#[derive(Clone, Copy)]
enum Kind {
    /// Serves HTTP API routes: a [`Handler`] of the request.
    Route(fn(Arc<App>) -> Handler),
    /// A Lambda authorizer: an [`Authorizer`] of the payload 2.0 event.
    Authorizer(fn(Arc<App>) -> Authorizer),
    /// Run by EventBridge on a schedule, no route: an [`Authorizer`]-shaped function of the
    /// scheduled event's JSON (the tests call it directly).
    Scheduled(fn(Arc<App>) -> Authorizer),
}

/// Makes the [`Handler`] of a function crate: `$krate::handler(&app, req)`, run as that function
/// ([`crate::iam::as_function`]: its DynamoDB requests carry its credentials).
macro_rules! function {
    ($krate:ident) => {
        Kind::Route(|app: Arc<App>| -> Handler {
            handler_fn(move |req| {
                let app = Arc::clone(&app);
                // As `shared::entry::lambda::serve_http` runs it: the front's origin check first.
                async move {
                    match shared::entry::front::refusal(&app.config, &req) {
                        Some(refused) => refused,
                        None => crate::iam::as_function(stringify!($krate), $krate::handler(&app, req)).await,
                    }
                }
            })
        })
    };
}

/// Makes the [`Authorizer`] of an authorizer crate: `$krate::handler(&app, event)`.
macro_rules! authorizer {
    ($krate:ident) => {
        Kind::Authorizer(|app: Arc<App>| -> Authorizer {
            Arc::new(move |event| {
                let app = Arc::clone(&app);
                Box::pin(async move {
                    let req = serde_json::from_value(event).map_err(|e| format!("authorizer event: {e}"))?;
                    let answer = crate::iam::as_function(stringify!($krate), $krate::handler(&app, req))
                        .await
                        .map_err(|e| e.to_string())?;
                    serde_json::to_value(answer).map_err(|e| e.to_string())
                })
            })
        })
    };
}

/// Makes the function of a scheduled crate: `$krate::handler(&app, event)`.
macro_rules! scheduled {
    ($krate:ident) => {
        Kind::Scheduled(|app: Arc<App>| -> Authorizer {
            Arc::new(move |event| {
                let app = Arc::clone(&app);
                Box::pin(async move {
                    crate::iam::as_function(stringify!($krate), $krate::handler(&app, event))
                        .await
                        .map_err(|e| e.to_string())
                })
            })
        })
    };
}

/// Every function the local gateway can run, by Cargo package (= `Metadata.BuildProperties.Binary`
/// in the template).
const FUNCTIONS: &[(&str, Kind)] = &[
    ("facebook-login", function!(facebook_login)),
    ("google-login", function!(google_login)),
    ("twitter-login", function!(twitter_login)),
    ("linkedin-login", function!(linkedin_login)),
    ("apple-login", function!(apple_login)),
    ("github-login", function!(github_login)),
    ("login", function!(login)),
    ("me", function!(me)),
    ("avatar", function!(avatar)),
    ("logout", function!(logout)),
    ("remove-other-tokens", function!(remove_other_tokens)),
    ("current-user", function!(current_user)),
    ("reset-key", function!(reset_key)),
    ("delete-user", function!(delete_user)),
    ("delete-self", function!(delete_self)),
    ("delete-own-account", function!(delete_own_account)),
    ("apple-notifications", function!(apple_notifications)),
    ("revocation-retry", scheduled!(revocation_retry)),
    ("sweeper", scheduled!(sweeper)),
    ("facebook-data-deletion", function!(facebook_data_deletion)),
    ("facebook-deletion-status", function!(facebook_deletion_status)),
    ("facebook-deauthorize", function!(facebook_deauthorize)),
    ("syncano-fallback", function!(syncano_fallback)),
    ("health", function!(health)),
    ("rocketchat-authorizer", authorizer!(rocketchat_authorizer)),
    ("syncano-authorizer", authorizer!(syncano_authorizer)),
];

/// Every package of the registry, route functions and authorizers.
pub fn packages() -> Vec<&'static str> {
    FUNCTIONS.iter().map(|(package, _)| *package).collect()
}

/// The packages [`function_handlers`] serves (the route functions), without needing an [`App`].
pub fn function_packages() -> Vec<&'static str> {
    FUNCTIONS.iter().filter(|(_, kind)| matches!(kind, Kind::Route(_))).map(|(package, _)| *package).collect()
}

/// The packages [`authorizer_functions`] runs.
pub fn authorizer_packages() -> Vec<&'static str> {
    FUNCTIONS.iter().filter(|(_, kind)| matches!(kind, Kind::Authorizer(_))).map(|(package, _)| *package).collect()
}

/// The in-process handler of every route function, by package name, sharing one `app`.
pub fn function_handlers(app: Arc<App>) -> HashMap<String, Handler> {
    FUNCTIONS
        .iter()
        .filter_map(|(package, kind)| match kind {
            Kind::Route(make) => Some(((*package).to_owned(), make(Arc::clone(&app)))),
            Kind::Authorizer(_) | Kind::Scheduled(_) => None,
        })
        .collect()
}

/// The in-process authorizer functions, by package, sharing `app`.
pub fn authorizer_functions(app: Arc<App>) -> HashMap<String, Authorizer> {
    FUNCTIONS
        .iter()
        .filter_map(|(package, kind)| match kind {
            Kind::Authorizer(make) => Some(((*package).to_owned(), make(Arc::clone(&app)))),
            Kind::Route(_) | Kind::Scheduled(_) => None,
        })
        .collect()
}

/// The packages [`scheduled_functions`] runs.
pub fn scheduled_packages() -> Vec<&'static str> {
    FUNCTIONS.iter().filter(|(_, kind)| matches!(kind, Kind::Scheduled(_))).map(|(package, _)| *package).collect()
}

/// The in-process scheduled functions, by package, sharing `app`: each takes the scheduled
/// event's JSON and answers its result's.
pub fn scheduled_functions(app: Arc<App>) -> HashMap<String, Authorizer> {
    FUNCTIONS
        .iter()
        .filter_map(|(package, kind)| match kind {
            Kind::Scheduled(make) => Some(((*package).to_owned(), make(Arc::clone(&app)))),
            Kind::Route(_) | Kind::Authorizer(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::template::Template;

    fn template() -> Template {
        Template::load(crate::dynamodb_local::repo_root().join("template.yaml")).expect("template.yaml")
    }

    fn registry() -> BTreeSet<String> {
        packages().into_iter().map(str::to_owned).collect()
    }

    fn crates() -> BTreeSet<String> {
        std::fs::read_dir(crate::dynamodb_local::repo_root().join("functions"))
            .expect("functions/")
            .filter_map(Result::ok)
            .filter(|e| e.path().join("Cargo.toml").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn every_template_function_has_a_handler() {
        let registry = registry();
        let template = template();
        let missing: Vec<_> = template.functions().into_iter().filter(|f| !registry.contains(f)).collect();
        assert!(missing.is_empty(), "in template.yaml, not in the gateway's registry: {missing:?}");
        // And of the right kind: the routes' functions serve requests, the authorizers authorize.
        let routes: BTreeSet<String> = template.routes().into_iter().map(|r| r.package).collect();
        let authorizers: BTreeSet<String> = template.authorizers().into_values().map(|a| a.package).collect();
        assert_eq!(routes, function_packages().into_iter().map(str::to_owned).collect());
        assert_eq!(authorizers, authorizer_packages().into_iter().map(str::to_owned).collect());
        // And a function without a route is run on a schedule.
        let scheduled: BTreeSet<String> = template.scheduled().into_iter().collect();
        assert_eq!(scheduled, scheduled_packages().into_iter().map(str::to_owned).collect());
    }

    #[test]
    fn every_handler_is_a_template_function() {
        let in_template: BTreeSet<String> = template().functions().into_iter().collect();
        let extra: Vec<_> = registry().into_iter().filter(|f| !in_template.contains(f)).collect();
        assert!(extra.is_empty(), "in the gateway's registry, not in template.yaml: {extra:?}");
        assert_eq!(packages().len(), registry().len(), "a package is listed twice");
    }

    #[test]
    fn every_function_crate_is_in_the_template_and_the_registry() {
        let in_template: BTreeSet<String> = template().functions().into_iter().collect();
        assert_eq!(crates(), in_template, "functions/* against template.yaml");
        assert_eq!(crates(), registry(), "functions/* against the gateway's registry");
    }
}

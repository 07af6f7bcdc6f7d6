//! `admin`: the operator's command line for instances, their sign-up policy, API keys and
//! settings, the re-keying of users whose key predates per-user salts, and the backfill of the
//! provider subjects' lists of instances.
//!
//! Reads `TABLE_NAME` and the usual AWS settings (region, credentials, and
//! `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local) from the environment.

use std::process::ExitCode;

use shared::config::TokenSecrets;
use shared::domain::clock::rfc3339_micros;
use shared::domain::instance_apps::OwnApp;
use shared::domain::tokens::UserKeys;
use shared::store::{ApiKeyPermissions, SignUpPolicy, UserStore};
use shared::InstanceName;

const USAGE: &str = "usage:
  admin create-instance INSTANCE [FLAGS] [--sign-up open|closed]
                                     create an instance and print its first API key; its
                                     sign-up policy is closed unless --sign-up open
  admin create-key INSTANCE [FLAGS]       print a new API key for an instance
  admin list-keys INSTANCE           list the instance's key ids and flags (never the keys)
  admin revoke-key INSTANCE KEY_ID   revoke a key by its id (a client key may still work for
                                     API_KEY_CACHE_SECS where it was just checked; it says how long)
  admin set-linking INSTANCE on|off  link a new provider identity to the user holding the same
                                     email when both providers vouch for it as verified (off)
  admin show-sign-up INSTANCE        print the instance's sign-up policy
  admin set-sign-up INSTANCE open|closed
                                     open: a first social login creates its user, through either
                                     API (a Syncano key needs --allow-user-create too); closed:
                                     only the instance's users sign in. An instance without a
                                     policy (created before it existed) is closed
  admin legacy-keys INSTANCE [--rekey]
                                     list the users whose user_key was made before per-user
                                     salts (computable from TOKEN_SECRET alone); --rekey gives
                                     each a new salted key, as reset_key/ does: the old key stops
                                     working at once, and the user's apps get the new one at the
                                     next login (reads TOKEN_SECRET, TOKEN_SECRET_VERSION and the
                                     previous ones from the environment, as the functions do)
  admin backfill-subjects INSTANCE
                                     list every identity of the instance's users under its
                                     provider subject (SUBJECT#), so that a provider's deletion
                                     callback finds it from any instance's URL; once per instance
                                     after the upgrade that brought the list (idempotent)

  admin set-provider INSTANCE PROVIDER --id ID [--id ID ...] [--secret-file FILE]
                                     give the instance its own app at PROVIDER (facebook, google,
                                     twitter, linkedin, apple, github): its public ids (Facebook
                                     app id, Google/Apple client ids, X consumer key, LinkedIn/
                                     GitHub client id); the secret (Facebook app secret, X
                                     consumer secret, LinkedIn/GitHub client secret) is read from
                                     FILE, or from stdin, never from the command line, and stored
                                     sealed under INSTANCE_SECRETS_KEY (from the environment).
                                     Tokens of other apps are refused there from then on (after
                                     API_KEY_CACHE_SECS where an environment keeps the old)
  admin set-provider INSTANCE apple --id ID [--id ID ...] --team-id TEAM --key-id KEY [--secret-file FILE]
                                     the instance's own Apple app of another developer team:
                                     its team's Sign in with Apple key (the .p8, from FILE or
                                     stdin; a P-256 PKCS#8 key, checked) signs its code exchange
                                     and revocation, sealed under INSTANCE_SECRETS_KEY. Without
                                     --team-id/--key-id the deployment's team key is used
  admin set-provider INSTANCE microsoft --tenant TENANT --client-id ID [--client-id ID ...]
                                     give the instance its own Microsoft app: TENANT is common,
                                     organizations, consumers or a tenant id (GUID); the client
                                     ids are the accepted audiences. ID tokens only: no secret
  admin set-oidc-provider INSTANCE NAME --issuer URL --client-id ID [--client-id ID ...]
        [--jwks-url URL] [--algorithm ALG ...] [--name-claim C] [--email-claim C]
        [--picture-claim C] [--trust-email]
                                     give the instance a custom OpenID Connect provider NAME
                                     (a-z, 0-9, '-'; Rocket.Chat serviceName NAME, Syncano
                                     backend oidc-NAME): issuer https:// only, keys by discovery
                                     unless --jwks-url, algorithms asymmetric only (RS256 unless
                                     given), claims name/email/picture unless given; --trust-email
                                     lets its verified emails link accounts (off). ID tokens
                                     only: no secret. At most 16 per instance
  admin show-providers INSTANCE      the instance's own apps: provider and public ids (never a
                                     secret), its Microsoft app and custom providers; the others
                                     are served by the deployment's app
  admin remove-provider INSTANCE PROVIDER|microsoft|oidc-NAME
                                     the deployment's app serves PROVIDER for the instance again
                                     (a custom provider or the instance's Microsoft app: removed)
  admin reseal INSTANCE              re-seal the instance's app secrets under the current
                                     INSTANCE_SECRETS_KEY (rotation: docs/security.md)

FLAGS (Syncano's API key permissions; none given = a key that may do neither):
  --allow-user-create   may create users on their first social login: the client key an app ships
  --ignore-acl          instance admin: may reset any user's key; never ship it in an app";

/// The sign-up policy `create-instance` is given (closed if none), and the key flags left.
fn sign_up_flag(flags: &[String]) -> Result<(SignUpPolicy, Vec<String>), String> {
    let mut policy = None;
    let mut rest = Vec::new();
    let mut args = flags.iter();
    while let Some(flag) = args.next() {
        if flag == "--sign-up" {
            let value = args.next().and_then(|v| SignUpPolicy::parse(v)).ok_or(USAGE)?;
            if policy.replace(value).is_some() {
                return Err(USAGE.to_string());
            }
        } else {
            rest.push(flag.clone());
        }
    }
    Ok((policy.unwrap_or(SignUpPolicy::Closed), rest))
}

fn describe_sign_up(instance: &InstanceName, policy: SignUpPolicy) -> String {
    match policy {
        SignUpPolicy::Open => format!("sign-up open for {instance}: a first social login creates its user"),
        SignUpPolicy::Closed => format!("sign-up closed for {instance}: only its users sign in"),
    }
}

/// The permissions the flags of `create-instance` / `create-key` ask for.
fn permissions(flags: &[String]) -> Result<ApiKeyPermissions, String> {
    let mut p = ApiKeyPermissions { ignore_acl: false, allow_user_create: false };
    for flag in flags {
        match flag.as_str() {
            "--allow-user-create" => p.allow_user_create = true,
            "--ignore-acl" => p.ignore_acl = true,
            _ => return Err(USAGE.to_string()),
        }
    }
    Ok(p)
}

/// How long a revoked key may still work (docs/security.md, "API key cache"): each execution
/// environment keeps a client key's check for `API_KEY_CACHE_SECS`, never an admin key's; API
/// Gateway keeps an authorizer's answer for `AuthorizerCacheSeconds`.
fn revocation_delay(admin_key: bool) -> String {
    let secs = shared::config::DEFAULT_API_KEY_CACHE_SECS;
    let functions = if admin_key {
        "the functions refuse it at once: no execution environment keeps an admin key's (ignore_acl) check".to_string()
    } else {
        format!(
            "the functions refuse it at once where it was not checked in the last API_KEY_CACHE_SECS \
             (default {secs} s, at most {} s); where it was, for at most that long it may still work",
            shared::config::MAX_API_KEY_CACHE_SECS
        )
    };
    format!(
        "{functions}; an app's own routes behind the syncano-authorizer may also pass it for \
         AuthorizerCacheSeconds more (default 60 s) from API Gateway's cache"
    )
}

fn describe(p: ApiKeyPermissions) -> String {
    format!("ignore_acl={} allow_user_create={}", p.ignore_acl, p.allow_user_create)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("admin: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let [command, instance, rest @ ..] = args else {
        return Err(USAGE.to_string());
    };
    let instance = InstanceName::parse(instance).ok_or("instance names are 1-64 of a-z, 0-9 and '-'")?;
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is required")?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = UserStore::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let err = |e: shared::store::StoreError| e.to_string();
    match (command.as_str(), rest) {
        ("create-instance", flags) => {
            let (policy, flags) = sign_up_flag(flags)?;
            let perms = permissions(&flags)?;
            store.create_instance_with(&instance, policy).await.map_err(err)?;
            let (key_id, key) = store.create_api_key(&instance, perms).await.map_err(err)?;
            println!(
                "instance {instance} created\n{}\napi key id {key_id} ({})\nX-API-KEY: {}",
                describe_sign_up(&instance, policy),
                describe(perms),
                key.expose()
            );
        }
        ("create-key", flags) => {
            let perms = permissions(flags)?;
            let (key_id, key) = store.create_api_key(&instance, perms).await.map_err(err)?;
            println!("api key id {key_id} ({})\nX-API-KEY: {}", describe(perms), key.expose());
        }
        ("list-keys", []) => {
            for k in store.list_api_keys(&instance).await.map_err(err)? {
                println!("{}\tcreated {}\t{}", k.key_id, rfc3339_micros(k.created_at), describe(k.permissions));
            }
        }
        ("revoke-key", [key_id]) => {
            let keys = store.list_api_keys(&instance).await.map_err(err)?;
            let admin_key = keys.iter().any(|k| k.key_id == *key_id && k.permissions.ignore_acl);
            if !store.revoke_api_key(&instance, key_id).await.map_err(err)? {
                return Err(format!("no key {key_id} in instance {instance}"));
            }
            println!("revoked {key_id}\n{}", revocation_delay(admin_key));
        }
        ("set-linking", [mode]) if mode == "on" || mode == "off" => {
            store.set_linking(&instance, mode == "on").await.map_err(err)?;
            println!("account linking by verified email {mode} for {instance}");
        }
        ("show-sign-up", []) => match store.stored_sign_up(&instance).await.map_err(err)? {
            Some(policy) => println!("{}", describe_sign_up(&instance, policy)),
            None => println!(
                "{} (none recorded: set one with set-sign-up)",
                describe_sign_up(&instance, SignUpPolicy::Closed)
            ),
        },
        ("set-sign-up", [mode]) => {
            let policy = SignUpPolicy::parse(mode).ok_or(USAGE)?;
            store.set_sign_up(&instance, policy).await.map_err(err)?;
            println!("{}", describe_sign_up(&instance, policy));
        }
        ("legacy-keys", []) => {
            let ids = store.users_with_legacy_keys(&instance).await.map_err(err)?;
            println!("{} users of {instance} have a legacy key", ids.len());
            for id in ids {
                println!("{id}");
            }
        }
        ("legacy-keys", [flag]) if flag == "--rekey" => {
            let secrets = TokenSecrets::from_env()
                .map_err(|e| e.to_string())?
                .ok_or("TOKEN_SECRET is required in the environment to make the new keys")?;
            let keys = UserKeys::new(Some(secrets));
            let ids = store.users_with_legacy_keys(&instance).await.map_err(err)?;
            let mut rekeyed = 0;
            for id in &ids {
                // Gone since the list was read (a deletion): nothing to re-key.
                if store.reset_user_key(&instance, *id, &keys).await.map_err(err)?.is_some() {
                    rekeyed += 1;
                }
            }
            println!("re-keyed {rekeyed} of {} users of {instance} with a legacy key", ids.len());
        }
        ("backfill-subjects", []) => {
            let listed = store.backfill_subjects(&instance).await.map_err(err)?;
            println!("listed {listed} identities of {instance} under their provider subjects");
        }
        ("set-provider", [provider, flags @ ..]) if provider == "microsoft" => {
            let (tenant, ids) = microsoft_flags(flags)?;
            let config = shared::config::MicrosoftConfig::new(
                &tenant,
                ids,
                shared::config::DEFAULT_MICROSOFT_AUTHORITY_URL,
                url_policy(),
            )
            .map_err(|e| e.to_string())?;
            store.put_instance_microsoft(&instance, &config).await.map_err(err)?;
            println!(
                "{instance} has its own microsoft app: tenant {}, client ids {}",
                config.tenant.segment(),
                config.client_ids.join(", ")
            );
        }
        ("set-oidc-provider", [name, flags @ ..]) => {
            let config = oidc_flags(name, flags)?;
            store.put_instance_oidc(&instance, &config).await.map_err(|e| e.to_string())?;
            println!("{instance} has the custom provider {}: {}", config.name.name(), describe_oidc(&config));
        }
        ("set-provider", [provider, flags @ ..]) => {
            let provider = shared::Provider::ALL
                .into_iter()
                .find(|p| p.as_str() == provider.as_str())
                .ok_or("PROVIDER is one of facebook, google, twitter, linkedin, apple, github")?;
            let (ids, secret_file, team) = provider_flags(flags)?;
            let secret = if OwnApp::takes_secret(provider) { read_secret(secret_file.as_deref())? } else { None };
            let mut app = OwnApp::new(provider, ids, secret).map_err(|e| e.to_string())?;
            match team {
                (Some(team_id), Some(key_id)) if provider == shared::Provider::Apple => {
                    let pem = read_secret(secret_file.as_deref())?.ok_or("the team's .p8 key is required")?;
                    app = app.with_team_key(&team_id, &key_id, &pem).map_err(|e| e.to_string())?;
                }
                (None, None) => {}
                _ => return Err("--team-id and --key-id go together, with apple only".into()),
            }
            let keys = instance_secrets_key()?;
            store.put_instance_app(&instance, &app, &keys).await.map_err(|e| e.to_string())?;
            println!("{instance} has its own {provider} app: {}", app.ids.join(", "));
        }
        ("show-providers", []) => {
            // Shown as the functions read them: an entry they would refuse is left out (and
            // logged), so what is listed is what is served.
            let rules = shared::store::OidcReadRules {
                policy: url_policy(),
                microsoft_authority: shared::config::DEFAULT_MICROSOFT_AUTHORITY_URL,
            };
            let (apps, oidc) = store
                .instance_providers(&instance, instance_secrets_key().ok().as_ref(), rules)
                .await
                .map_err(|e| e.to_string())?;
            if apps.is_empty() && oidc.is_empty() {
                println!("{instance} has no app of its own: the deployment's apps serve it");
            }
            for app in apps.apps {
                let secret = if app.secret.is_some() { " (secret sealed)" } else { "" };
                let team = match &app.team_key {
                    Some(shared::domain::instance_apps::AppleTeamKey::Own { team_id, key_id, .. }) => {
                        format!(" (team {team_id}, key {key_id} sealed)")
                    }
                    Some(shared::domain::instance_apps::AppleTeamKey::Refused) => " (team key unusable)".to_string(),
                    None => String::new(),
                };
                println!("{}\t{}{secret}{team}", app.provider, app.ids.join(","));
            }
            if let Some(ms) = &oidc.microsoft {
                println!("microsoft\t{}\ttenant {}", ms.client_ids.join(","), ms.tenant.segment());
            }
            for c in &oidc.custom {
                println!("oidc-{}\t{}", c.name.name(), describe_oidc(c));
            }
        }
        ("remove-provider", [provider]) => {
            let provider = shared::Provider::ALL
                .into_iter()
                .chain([shared::Provider::Microsoft])
                .find(|p| p.as_str() == provider.as_str())
                .or_else(|| {
                    // A custom provider's name from the operator (configuration, not a client).
                    let name = provider.strip_prefix("oidc-")?;
                    shared::domain::identity::OidcName::configured(name).ok().map(shared::Provider::Oidc)
                })
                .ok_or("PROVIDER is one of facebook, google, twitter, linkedin, apple, github, microsoft, oidc-NAME")?;
            if !store.remove_instance_app(&instance, provider).await.map_err(err)? {
                return Err(format!("{instance} has no {provider} app of its own"));
            }
            println!("{instance}: the deployment's {provider} app serves it again");
        }
        ("reseal", []) => {
            let keys = instance_secrets_key()?;
            let n = store.reseal_instance_apps(&instance, &keys).await.map_err(|e| e.to_string())?;
            println!("re-sealed {n} secrets of {instance} under key version {}", keys.current_version());
        }
        _ => return Err(USAGE.to_string()),
    }
    Ok(())
}

/// Whether issuer and JWKS URLs may be `http://` on loopback: `ALLOW_INSECURE_PROVIDER_URLS=true`
/// in the environment (local tools only), as the functions read it. The functions check every
/// stored entry again with their own rule.
fn url_policy() -> shared::config::UrlPolicy {
    let allow = std::env::var("ALLOW_INSECURE_PROVIDER_URLS").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    shared::config::UrlPolicy { allow_loopback_http: allow }
}

/// `--tenant T` and `--client-id ID` (repeated) of `set-provider INSTANCE microsoft`.
fn microsoft_flags(flags: &[String]) -> Result<(String, Vec<String>), String> {
    let (mut tenant, mut ids) = (None, Vec::new());
    let mut args = flags.iter();
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--tenant", Some(v)) if tenant.is_none() => tenant = Some(v.clone()),
            ("--client-id" | "--id", Some(v)) => ids.push(v.clone()),
            _ => return Err(USAGE.to_string()),
        }
    }
    Ok((tenant.unwrap_or_else(|| "common".to_string()), ids))
}

/// A custom provider from the flags of `set-oidc-provider`, checked with the functions' rules.
fn oidc_flags(name: &str, flags: &[String]) -> Result<shared::config::CustomOidcConfig, String> {
    let (mut issuer, mut ids, mut jwks, mut algs, mut trust) = (None, Vec::new(), None, Vec::new(), false);
    let mut claims = shared::config::ClaimNames::default();
    let mut args = flags.iter();
    while let Some(flag) = args.next() {
        if flag == "--trust-email" {
            trust = true;
            continue;
        }
        match (flag.as_str(), args.next()) {
            ("--issuer", Some(v)) if issuer.is_none() => issuer = Some(v.clone()),
            ("--client-id" | "--id", Some(v)) => ids.push(v.clone()),
            ("--jwks-url", Some(v)) if jwks.is_none() => jwks = Some(v.clone()),
            ("--algorithm", Some(v)) => algs.push(v.clone()),
            ("--name-claim", Some(v)) => claims.name = v.clone(),
            ("--email-claim", Some(v)) => claims.email = v.clone(),
            ("--picture-claim", Some(v)) => claims.picture = v.clone(),
            _ => return Err(USAGE.to_string()),
        }
    }
    let policy = url_policy();
    let issuer = issuer.ok_or("--issuer is required")?;
    let e = |e: shared::config::OidcConfigError| e.to_string();
    let mut config = shared::config::CustomOidcConfig::new(name, &issuer, ids, policy).map_err(e)?;
    if let Some(url) = jwks {
        config = config.with_jwks_url(&url, policy).map_err(e)?;
    }
    if !algs.is_empty() {
        let names: Vec<&str> = algs.iter().map(String::as_str).collect();
        config = config.with_algorithms(&names).map_err(e)?;
    }
    config = config.with_claims(&claims.name, &claims.email, &claims.picture).map_err(e)?;
    Ok(config.with_trust_email(trust))
}

/// A custom provider's public settings, one line.
fn describe_oidc(c: &shared::config::CustomOidcConfig) -> String {
    let keys = match &c.jwks {
        shared::config::JwksSource::Discovery => "keys by discovery".to_string(),
        shared::config::JwksSource::Url(url) => format!("jwks {url}"),
    };
    let algs: Vec<&str> = c.algorithms.iter().map(|a| a.name()).collect();
    format!(
        "issuer {}, client ids {}, {keys}, algorithms {}, claims {}/{}/{}, trust_email {}",
        c.issuer,
        c.client_ids.join(","),
        algs.join(","),
        c.claims.name,
        c.claims.email,
        c.claims.picture,
        c.trust_email
    )
}

/// Apple's `--team-id` and `--key-id` of `set-provider`.
type TeamFlags = (Option<String>, Option<String>);

/// `--id ID` (repeated), `--secret-file FILE` and Apple's `--team-id`/`--key-id` of `set-provider`.
fn provider_flags(flags: &[String]) -> Result<(Vec<String>, Option<String>, TeamFlags), String> {
    let (mut ids, mut file, mut team_id, mut key_id) = (Vec::new(), None, None, None);
    let mut args = flags.iter();
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--id" | "--app-id" | "--client-id" | "--consumer-key", Some(v)) => ids.push(v.clone()),
            ("--secret-file", Some(v)) if file.is_none() => file = Some(v.clone()),
            ("--team-id", Some(v)) if team_id.is_none() => team_id = Some(v.clone()),
            ("--key-id", Some(v)) if key_id.is_none() => key_id = Some(v.clone()),
            _ => return Err(USAGE.to_string()),
        }
    }
    Ok((ids, file, (team_id, key_id)))
}

/// The app secret, from `file` or stdin (never an argument: it would be in the shell's
/// history and the process list); surrounding whitespace dropped.
fn read_secret(file: Option<&str>) -> Result<Option<shared::Secret>, String> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read the secret file: {e}"))?,
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| format!("cannot read the secret from stdin: {e}"))?;
            text
        }
    };
    let text = text.trim();
    Ok((!text.is_empty()).then(|| shared::Secret::new(text)))
}

/// `INSTANCE_SECRETS_KEY` (and its versions) from the environment, as the functions read it.
fn instance_secrets_key() -> Result<shared::domain::sealing::SealingKeys, String> {
    shared::config::instance_secrets_key_from_env()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "INSTANCE_SECRETS_KEY is required in the environment to seal app secrets".to_string())
}

//! The `admin` binary against DynamoDB Local: create an instance, list, use and revoke its keys,
//! show and set its sign-up policy.

use std::process::{Command, Output};

use local_stack::dynamodb_local::{endpoint_for_tests, repo_root};
use local_stack::Template;
use shared::config::TokenSecrets;
use shared::domain::identity::{Provider, VerifiedIdentity};
use shared::domain::records::UserRecord;
use shared::domain::tokens::{derive_legacy_user_key, sha256_hex, UserKeys};
use shared::store::{user_key_of, ApiKeyCheck, ApiKeyPermissions, SignUpPolicy, UserStore};
use shared::{InstanceName, Secret};

fn admin(table: &str, args: &[&str]) -> Output {
    admin_with(table, args, &[])
}

/// `admin` at the test table of DynamoDB Local, with `args` and extra environment variables.
fn admin_command(table: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_admin"));
    command
        .args(args)
        .envs(env.iter().copied())
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint_for_tests())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env_remove("AWS_PROFILE");
    command
}

/// `admin` with extra environment variables (the token secrets, which never go on a command line).
fn admin_with(table: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    admin_command(table, args, env).output().expect("run admin")
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "admin failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn field<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in {text}")).trim()
}

/// A fresh table (from template.yaml) named after `name`, in DynamoDB Local: its client, name and
/// store.
async fn fresh_table(name: &str) -> (aws_sdk_dynamodb::Client, String, UserStore) {
    // The tools' patient client: a cold DynamoDB Local on a loaded machine may take longer than 5 s.
    let dynamo = local_stack::dynamodb_local::client(endpoint_for_tests());
    // Unique even on a DynamoDB Local another test process started (pids repeat).
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let table = format!("{name}-{}-{nanos:08x}", std::process::id());
    let template = Template::load(repo_root().join("template.yaml")).expect("template");
    template.table().create(&dynamo, &table).await.expect("table");
    let store = UserStore::new(dynamo.clone(), &table);
    (dynamo, table, store)
}

/// An instance `acme` open to sign-ups, made with the admin tool, and user keys to make users with.
fn open_acme(table: &str) -> (InstanceName, UserKeys) {
    stdout(&admin(table, &["create-instance", "acme", "--allow-user-create", "--sign-up", "open"]));
    let keys = UserKeys::new(Some(TokenSecrets { current: (1, keys_secret()), previous: None }));
    (InstanceName::parse("acme").expect("valid"), keys)
}

#[tokio::test]
async fn instances_and_keys_are_managed_from_the_command_line() {
    let (dynamo, table, store) = fresh_table("admin").await;
    let acme = InstanceName::parse("acme").expect("valid");

    let out = stdout(&admin(&table, &["create-instance", "acme", "--allow-user-create"]));
    let key = field(&out, "X-API-KEY:").to_string();
    let key_id = field(&out, "api key id").split(' ').next().expect("id").to_string();
    assert!(key.len() == 40 && key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    assert_eq!(
        store.check_api_key(&acme, &Secret::new(&key)).await.expect("check"),
        ApiKeyCheck::Valid(ApiKeyPermissions::CLIENT)
    );

    let second = stdout(&admin(&table, &["create-key", "acme", "--ignore-acl"]));
    let second_key = field(&second, "X-API-KEY:").to_string();
    let second_id = field(&second, "api key id").split(' ').next().expect("id").to_string();
    let admin_only = ApiKeyPermissions { ignore_acl: true, allow_user_create: false };
    assert_eq!(
        store.check_api_key(&acme, &Secret::new(&second_key)).await.expect("check"),
        ApiKeyCheck::Valid(admin_only)
    );
    let third = stdout(&admin(&table, &["create-key", "acme"]));
    let third_key = field(&third, "X-API-KEY:").to_string();
    assert_eq!(
        store.check_api_key(&acme, &Secret::new(&third_key)).await.expect("check"),
        ApiKeyCheck::Valid(ApiKeyPermissions { ignore_acl: false, allow_user_create: false }),
        "no flag, no permission"
    );
    let listed = stdout(&admin(&table, &["list-keys", "acme"]));
    let line = |id: &str| listed.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id} in {listed}"));
    assert!(line(&key_id).ends_with("ignore_acl=false allow_user_create=true"), "{listed}");
    assert!(line(&second_id).ends_with("ignore_acl=true allow_user_create=false"), "{listed}");
    assert!(!listed.contains(&key) && !listed.contains(&second_key), "list-keys must never show keys");

    let revoked = stdout(&admin(&table, &["revoke-key", "acme", &key_id]));
    // How long it may still work is stated (docs/security.md, "API key cache").
    assert!(revoked.contains("API_KEY_CACHE_SECS") && revoked.contains("30 s"), "{revoked}");
    assert_eq!(store.check_api_key(&acme, &Secret::new(&key)).await.expect("check"), ApiKeyCheck::InvalidKey);
    assert_eq!(
        store.check_api_key(&acme, &Secret::new(&second_key)).await.expect("check"),
        ApiKeyCheck::Valid(admin_only)
    );

    assert!(stdout(&admin(&table, &["set-linking", "acme", "on"])).contains("on"));
    stdout(&admin(&table, &["set-linking", "acme", "off"]));

    // The sign-up policy: closed unless asked for, recorded on the instance item, read with the key.
    let sign_up = |instance: &InstanceName, key: &str| {
        let store = store.clone();
        let (instance, key) = (instance.clone(), Secret::new(key));
        async move { store.check_api_key_access(&instance, &key).await.expect("check").sign_up }
    };
    assert!(out.contains("sign-up closed for acme"), "{out}");
    assert_eq!(store.stored_sign_up(&acme).await.expect("read"), Some(SignUpPolicy::Closed));
    assert!(stdout(&admin(&table, &["show-sign-up", "acme"])).starts_with("sign-up closed for acme"));
    assert!(stdout(&admin(&table, &["set-sign-up", "acme", "open"])).starts_with("sign-up open for acme"));
    assert!(stdout(&admin(&table, &["show-sign-up", "acme"])).starts_with("sign-up open for acme"));
    assert_eq!(sign_up(&acme, &second_key).await, SignUpPolicy::Open);
    stdout(&admin(&table, &["set-sign-up", "acme", "closed"]));
    assert_eq!(sign_up(&acme, &second_key).await, SignUpPolicy::Closed);
    let open = stdout(&admin(&table, &["create-instance", "beta", "--sign-up", "open", "--allow-user-create"]));
    assert!(open.contains("sign-up open for beta") && open.contains("allow_user_create=true"), "{open}");
    let beta = InstanceName::parse("beta").expect("valid");
    assert_eq!(sign_up(&beta, field(&open, "X-API-KEY:")).await, SignUpPolicy::Open);
    // An instance item from before the policy: none recorded, which reads as closed.
    let legacy = InstanceName::parse("legacy").expect("valid");
    store.create_instance(&legacy).await.expect("instance");
    store.set_sign_up(&legacy, SignUpPolicy::Open).await.expect("open");
    let mut legacy_key = std::collections::HashMap::new();
    legacy_key.insert("pk".to_string(), aws_sdk_dynamodb::types::AttributeValue::S("INST#legacy".into()));
    legacy_key.insert("sk".to_string(), aws_sdk_dynamodb::types::AttributeValue::S("INSTANCE".into()));
    let update = dynamo.update_item().table_name(&table).set_key(Some(legacy_key)).update_expression("REMOVE sign_up");
    update.send().await.expect("remove the policy");
    assert_eq!(store.stored_sign_up(&legacy).await.expect("read"), None);
    let shown = stdout(&admin(&table, &["show-sign-up", "legacy"]));
    assert!(shown.starts_with("sign-up closed for legacy") && shown.contains("none recorded"), "{shown}");

    for args in [
        &["set-linking", "acme", "maybe"][..],
        &["set-linking", "no-such-instance", "on"],
        &["create-instance", "acme"],
        &["create-instance", "gamma", "--sign-up"],
        &["create-instance", "gamma", "--sign-up", "maybe"],
        &["create-instance", "gamma", "--sign-up", "open", "--sign-up", "closed"],
        &["set-sign-up", "acme", "maybe"],
        &["set-sign-up", "acme"],
        &["set-sign-up", "no-such-instance", "open"],
        &["show-sign-up", "no-such-instance"],
        &["revoke-key", "acme", &key_id],
        &["create-key", "no-such-instance"],
        &["create-key", "acme", "--superuser"],
        &["list-keys", "Bad Name"],
        &["frobnicate", "acme"],
        &[],
    ] {
        let o = admin(&table, args);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(!String::from_utf8_lossy(&o.stderr).is_empty(), "{args:?} should say why");
    }
}

/// A user made before per-user salts: its key derived from `TOKEN_SECRET` alone, as the code of
/// that time stored it (no `key_salt` on the user or its identity snapshot, version 1, and the
/// lookup of the legacy key).
async fn make_legacy(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    user: &UserRecord,
    subject: &str,
    keys: &UserKeys,
) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let instance = user.instance.as_str();
    let key = |pk: String, sk: &str| {
        std::collections::HashMap::from([
            ("pk".to_string(), AttributeValue::S(pk)),
            ("sk".to_string(), AttributeValue::S(sk.into())),
        ])
    };
    for (pk, sk) in [
        (format!("USER#{instance}#{}", user.user_id), "USER"),
        (format!("IDENT#{instance}#facebook#{subject}"), "IDENT"),
    ] {
        dynamo
            .update_item()
            .table_name(table)
            .set_key(Some(key(pk, sk)))
            .update_expression("REMOVE key_salt SET key_version = :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await
            .expect("legacy user");
    }
    let salted = user_key_of(keys, user).expect("key");
    dynamo
        .delete_item()
        .table_name(table)
        .set_key(Some(key(format!("UKEY#{instance}#{}", sha256_hex(salted.expose())), "UKEY")))
        .send()
        .await
        .expect("old lookup");
    let legacy = derive_legacy_user_key(&keys_secret(), instance, user.user_id, user.key_generation);
    let mut lookup = key(format!("UKEY#{instance}#{}", sha256_hex(legacy.expose())), "UKEY");
    lookup.insert("user_id".into(), AttributeValue::N(user.user_id.to_string()));
    dynamo.put_item().table_name(table).set_item(Some(lookup)).send().await.expect("legacy lookup");
}

const TOKEN_SECRET: &str = "legacy-test-secret-legacy-test-secret";

fn keys_secret() -> Secret {
    Secret::new(TOKEN_SECRET)
}

/// `admin legacy-keys` lists the users whose key is computable from `TOKEN_SECRET` alone, and
/// `--rekey` gives each a salted key: the legacy key stops working, the others are untouched.
#[tokio::test]
async fn legacy_keys_are_listed_and_rekeyed() {
    let (dynamo, table, store) = fresh_table("admin-legacy").await;
    let (acme, keys) = open_acme(&table);
    let mut users = Vec::new();
    for (i, name) in ["Old Timer", "New Comer", "Old Hand"].iter().enumerate() {
        let identity = VerifiedIdentity {
            provider: Provider::Facebook,
            subject: format!("10{i}"),
            name: Some((*name).into()),
            email: None,
            email_verified: false,
            hosted_domain: None,
            avatar_url: None,
        };
        users.push((
            store.create_user(&acme, &identity, &keys, settings(&store, &acme).await).await.expect("user"),
            identity.subject,
        ));
    }
    for (user, subject) in [&users[0], &users[2]] {
        make_legacy(&dynamo, &table, user, subject, &keys).await;
    }
    let legacy_key = |u: &UserRecord| derive_legacy_user_key(&keys_secret(), "acme", u.user_id, u.key_generation);
    let holder = |key: Secret| {
        let store = &store;
        let acme = &acme;
        async move { store.find_by_user_key(acme, &key).await.expect("lookup").map(|u| u.user_id) }
    };
    assert_eq!(holder(legacy_key(&users[0].0)).await, Some(users[0].0.user_id), "the legacy key works today");
    let untouched_key = user_key_of(&keys, &users[1].0).expect("key");

    let listed = stdout(&admin(&table, &["legacy-keys", "acme"]));
    let ids: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(ids, [users[0].0.user_id.to_string(), users[2].0.user_id.to_string()], "{listed}");
    assert!(listed.starts_with("2 users of acme have a legacy key"), "{listed}");

    // Without the secrets the tool refuses, and says why; a secret is never an argument.
    let o = admin(&table, &["legacy-keys", "acme", "--rekey"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("TOKEN_SECRET"));
    let o = admin_with(&table, &["legacy-keys", "acme", "--rekey"], &[("TOKEN_SECRET", TOKEN_SECRET)]);
    assert!(stdout(&o).contains("re-keyed 2 of 2 users"), "{}", stdout(&o));

    for (user, _) in [&users[0], &users[2]] {
        assert_eq!(holder(legacy_key(user)).await, None, "the legacy key no longer opens the account");
        let now = store.get_user(&acme, user.user_id).await.expect("read").expect("user");
        assert_eq!(now.key_salt.as_ref().map(String::len), Some(32));
        assert_eq!(now.key_generation, user.key_generation + 1);
        assert_eq!(holder(user_key_of(&keys, &now).expect("key")).await, Some(user.user_id));
    }
    assert_eq!(holder(untouched_key).await, Some(users[1].0.user_id), "a salted key is left alone");
    assert!(stdout(&admin(&table, &["legacy-keys", "acme"])).starts_with("0 users of acme"));
    assert!(!admin(&table, &["legacy-keys", "no-such-instance"]).status.success());
}

/// `admin backfill-subjects` lists the identities made before the `SUBJECT#` lists existed, so
/// that a provider's deletion callback finds them from any instance (issue 28); idempotent.
#[tokio::test]
async fn identities_made_before_the_subject_lists_are_backfilled() {
    let (dynamo, table, store) = fresh_table("admin-subjects").await;
    let (acme, keys) = open_acme(&table);
    for subject in ["201", "202"] {
        let identity = VerifiedIdentity {
            provider: Provider::Facebook,
            subject: subject.into(),
            name: Some("Early Bird".into()),
            email: None,
            email_verified: false,
            hosted_domain: None,
            avatar_url: None,
        };
        store.create_user(&acme, &identity, &keys, settings(&store, &acme).await).await.expect("user");
        // As an identity made before the lists: its entry absent.
        let entry = std::collections::HashMap::from([
            ("pk".to_string(), aws_sdk_dynamodb::types::AttributeValue::S(format!("SUBJECT#facebook#{subject}"))),
            ("sk".to_string(), aws_sdk_dynamodb::types::AttributeValue::S("INST#acme".into())),
        ]);
        dynamo.delete_item().table_name(&table).set_key(Some(entry)).send().await.expect("unlisted");
        assert!(store.instances_of_subject("facebook", subject).await.expect("query").is_empty());
    }
    for _ in 0..2 {
        let out = stdout(&admin(&table, &["backfill-subjects", "acme"]));
        assert!(out.contains("listed 2 identities of acme"), "{out}");
        for subject in ["201", "202"] {
            assert_eq!(
                store.instances_of_subject("facebook", subject).await.expect("query"),
                std::slice::from_ref(&acme)
            );
        }
    }
    assert!(!admin(&table, &["backfill-subjects", "no-such-instance"]).status.success());
}

/// What `instance` says of new users, as a function's first login reads it.
async fn settings(store: &UserStore, instance: &InstanceName) -> shared::domain::records::InstanceSettings {
    store.instance_settings(instance).await.expect("read").expect("instance exists")
}

/// `admin` with `input` on its stdin (a secret, which never goes on a command line).
fn admin_stdin(table: &str, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    use std::io::Write;
    let mut child = admin_command(table, args, env)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run admin");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("admin output")
}

/// An instance's own provider apps from the command line (issue 31): ids as arguments, secrets
/// from stdin or a file only, sealed in the table (never shown, never in the raw item); a
/// rotation of INSTANCE_SECRETS_KEY with `reseal` keeps them.
#[tokio::test]
async fn own_provider_apps_are_managed_from_the_command_line() {
    let (dynamo, table, store) = fresh_table("admin-apps").await;
    stdout(&admin(&table, &["create-instance", "acme"]));
    let acme = InstanceName::parse("acme").expect("valid");
    let (key1, key2) = ("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=");
    let v1 = [("INSTANCE_SECRETS_KEY", key1)];
    let fb_secret = "fb-app-secret-0123456789abcdef";
    let gh_secret = "gh-client-secret-0123456789abcdef";

    stdout(&admin_stdin(&table, &["set-provider", "acme", "facebook", "--id", "1234"], &v1, &format!("{fb_secret}\n")));
    let file = std::env::temp_dir().join(format!("admin-secret-{}", std::process::id()));
    std::fs::write(&file, gh_secret).expect("secret file");
    let path = file.to_string_lossy().into_owned();
    stdout(&admin_with(&table, &["set-provider", "acme", "github", "--id", "gh-client", "--secret-file", &path], &v1));
    let _ = std::fs::remove_file(&file);
    stdout(&admin_with(&table, &["set-provider", "acme", "google", "--id", "web.apps", "--id", "ios.apps"], &v1));
    // An Apple app of another team: its .p8 from stdin, checked (an RSA key is refused), sealed.
    let p8 = include_str!("../../emulator/keys/apple-other-team.p8");
    let apple =
        ["set-provider", "acme", "apple", "--id", "com.acme", "--team-id", "OTHERTEAM1", "--key-id", "OTHERKEY01"];
    let rsa = include_str!("../../emulator/keys/key-1.pem");
    assert!(!admin_stdin(&table, &apple, &v1, rsa).status.success(), "an RSA key is no Sign in with Apple key");
    stdout(&admin_stdin(&table, &apple, &v1, p8));
    let p8_body: String = p8.lines().filter(|l| !l.starts_with("-----")).collect();
    // No secret given (empty stdin), a secret as an argument, no key: refused.
    assert!(!admin_stdin(&table, &["set-provider", "acme", "twitter", "--id", "k"], &v1, "").status.success());
    assert!(!admin_with(&table, &["set-provider", "acme", "twitter", "--id", "k", "on-the-command-line"], &v1)
        .status
        .success());
    assert!(!admin_stdin(&table, &["set-provider", "acme", "twitter", "--id", "k"], &[], "s").status.success());

    let shown = stdout(&admin_with(&table, &["show-providers", "acme"], &v1));
    assert!(shown.contains("facebook\t1234 (secret sealed)"), "{shown}");
    assert!(shown.contains("google\tweb.apps,ios.apps"), "{shown}");
    assert!(shown.contains("apple\tcom.acme (team OTHERTEAM1, key OTHERKEY01 sealed)"), "{shown}");
    assert!(!shown.contains(fb_secret) && !shown.contains(gh_secret), "{shown}");
    let raw = dynamo
        .get_item()
        .table_name(&table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("INSTCONF#acme".into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("PROVIDERS".into()))
        .send()
        .await
        .expect("get");
    let raw = format!("{:?}", raw.item);
    assert!(!raw.contains(fb_secret) && !raw.contains(gh_secret) && raw.contains("v2.1."), "{raw}");
    assert!(!raw.contains(&p8_body) && !raw.contains(&p8_body[..40]) && raw.contains("OTHERTEAM1"), "{raw}");

    // Rotation: version 2 current, 1 previous; reseal; then version 2 alone opens them all.
    let rotated = [
        ("INSTANCE_SECRETS_KEY", key2),
        ("INSTANCE_SECRETS_KEY_VERSION", "2"),
        ("INSTANCE_SECRETS_KEY_PREVIOUS", key1),
        ("INSTANCE_SECRETS_KEY_PREVIOUS_VERSION", "1"),
    ];
    assert!(stdout(&admin_with(&table, &["reseal", "acme"], &rotated)).contains("re-sealed 3 secrets"));
    let v2 = shared::domain::sealing::SealingKeys::new(
        (2, shared::domain::sealing::SealingKey::from_base64(key2).expect("key")),
        None,
    );
    let apps = store.instance_apps(&acme, Some(&v2)).await.expect("opens with the new key alone");
    let fb = apps.get(Provider::Facebook).and_then(|a| a.secret.as_ref()).map(|s| s.expose().to_string());
    assert_eq!(fb.as_deref(), Some(fb_secret));
    let team = apps.get(Provider::Apple).and_then(|a| a.team_key.clone());
    assert!(
        matches!(&team, Some(shared::domain::instance_apps::AppleTeamKey::Own { team_id, private_key, .. })
            if team_id == "OTHERTEAM1" && private_key.expose().trim() == p8.trim()),
        "{team:?}"
    );

    stdout(&admin(&table, &["remove-provider", "acme", "facebook"]));
    assert!(!admin(&table, &["remove-provider", "acme", "facebook"]).status.success(), "already gone");
    let shown = stdout(&admin_with(
        &table,
        &["show-providers", "acme"],
        &[("INSTANCE_SECRETS_KEY", key2), ("INSTANCE_SECRETS_KEY_VERSION", "2")],
    ));
    assert!(!shown.contains("facebook") && shown.contains("github"), "{shown}");
}

/// An instance's custom OpenID Connect providers and its own Microsoft app: set with the
/// functions' rules (https issuer, asymmetric algorithms, a valid tenant), shown (public
/// settings only), at most 16 custom providers, removed one at a time; read back as the
/// functions read them.
#[tokio::test]
async fn custom_oidc_providers_and_microsoft_are_managed_from_the_command_line() {
    let (_dynamo, table, store) = fresh_table("admin-oidc").await;
    stdout(&admin(&table, &["create-instance", "acme"]));
    let acme = InstanceName::parse("acme").expect("valid");
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    stdout(&admin(
        &table,
        &[
            "set-oidc-provider",
            "acme",
            "corp",
            "--issuer",
            "https://idp.corp.example/realms/a",
            "--client-id",
            "web",
            "--client-id",
            "ios",
            "--algorithm",
            "ES256",
            "--algorithm",
            "RS256",
            "--email-claim",
            "mail",
            "--trust-email",
        ],
    ));
    stdout(&admin(
        &table,
        &[
            "set-oidc-provider",
            "acme",
            "okta",
            "--issuer",
            "https://corp.okta.example",
            "--client-id",
            "0oa1",
            "--jwks-url",
            "https://corp.okta.example/oauth2/v1/keys",
        ],
    ));
    stdout(&admin(&table, &["set-provider", "acme", "microsoft", "--tenant", tenant, "--client-id", "ms-app"]));
    // Refused with the functions' rules.
    for bad in [
        vec!["set-oidc-provider", "acme", "plain", "--issuer", "http://idp.example", "--client-id", "a"],
        vec![
            "set-oidc-provider",
            "acme",
            "hs",
            "--issuer",
            "https://idp.example",
            "--client-id",
            "a",
            "--algorithm",
            "HS256",
        ],
        vec![
            "set-oidc-provider",
            "acme",
            "none",
            "--issuer",
            "https://idp.example",
            "--client-id",
            "a",
            "--algorithm",
            "none",
        ],
        vec!["set-oidc-provider", "acme", "google", "--issuer", "https://idp.example", "--client-id", "a"],
        vec!["set-oidc-provider", "acme", "noid", "--issuer", "https://idp.example"],
        vec!["set-provider", "acme", "microsoft", "--tenant", "contoso.example", "--client-id", "a"],
    ] {
        assert!(!admin(&table, &bad).status.success(), "{bad:?}");
    }

    let shown = stdout(&admin(&table, &["show-providers", "acme"]));
    assert!(shown.contains(&format!("microsoft\tms-app\ttenant {tenant}")), "{shown}");
    assert!(shown.contains("oidc-corp\tissuer https://idp.corp.example/realms/a, client ids web,ios"), "{shown}");
    assert!(shown.contains("algorithms ES256,RS256, claims name/mail/picture, trust_email true"), "{shown}");
    assert!(
        shown.contains("oidc-okta\t") && shown.contains("jwks https://corp.okta.example/oauth2/v1/keys"),
        "{shown}"
    );

    let rules = shared::store::OidcReadRules {
        policy: shared::config::UrlPolicy::default(),
        microsoft_authority: shared::config::DEFAULT_MICROSOFT_AUTHORITY_URL,
    };
    let (_, oidc) = store.instance_providers(&acme, None, rules).await.expect("read");
    assert_eq!(oidc.custom.len(), 2);
    let corp = oidc.custom.iter().find(|c| c.name.name() == "corp").expect("corp");
    assert!(corp.trust_email && corp.claims.email == "mail");
    assert_eq!(oidc.microsoft.as_ref().map(|m| m.tenant.segment()), Some(tenant));

    // At most 16 custom providers: replacing one is allowed, a 17th is not.
    for i in 2..16 {
        let name = format!("idp{i}");
        stdout(&admin(
            &table,
            &["set-oidc-provider", "acme", &name, "--issuer", "https://i.example", "--client-id", "a"],
        ));
    }
    stdout(&admin(
        &table,
        &["set-oidc-provider", "acme", "okta", "--issuer", "https://okta.example", "--client-id", "b"],
    ));
    let out =
        admin(&table, &["set-oidc-provider", "acme", "one-more", "--issuer", "https://i.example", "--client-id", "a"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("at most 16"));

    stdout(&admin(&table, &["remove-provider", "acme", "oidc-corp"]));
    stdout(&admin(&table, &["remove-provider", "acme", "microsoft"]));
    assert!(!admin(&table, &["remove-provider", "acme", "oidc-corp"]).status.success(), "already gone");
    let shown = stdout(&admin(&table, &["show-providers", "acme"]));
    assert!(!shown.contains("oidc-corp") && !shown.contains("microsoft") && shown.contains("oidc-okta"), "{shown}");
}

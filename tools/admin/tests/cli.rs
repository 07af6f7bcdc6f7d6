//! The `admin` binary against DynamoDB Local: create an instance, list, use and revoke its keys.

use std::process::{Command, Output};

use local_stack::dynamodb_local::{endpoint_for_tests, repo_root};
use local_stack::Template;
use shared::store::{ApiKeyCheck, ApiKeyPermissions, UserStore};
use shared::{InstanceName, Secret};

fn admin(table: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admin"))
        .args(args)
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint_for_tests())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run admin")
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "admin failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn field<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in {text}")).trim()
}

#[tokio::test]
async fn instances_and_keys_are_managed_from_the_command_line() {
    // The tools' patient client: a cold DynamoDB Local on a loaded machine may take longer than 5 s.
    let dynamo = local_stack::dynamodb_local::client(endpoint_for_tests());
    // Unique even on a DynamoDB Local another test process started (pids repeat).
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let table = format!("admin-{}-{nanos:08x}", std::process::id());
    let template = Template::load(repo_root().join("template.yaml")).expect("template");
    template.table().create(&dynamo, &table).await.expect("table");
    let store = UserStore::new(dynamo, &table);
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

    stdout(&admin(&table, &["revoke-key", "acme", &key_id]));
    assert_eq!(store.check_api_key(&acme, &Secret::new(&key)).await.expect("check"), ApiKeyCheck::InvalidKey);
    assert_eq!(
        store.check_api_key(&acme, &Secret::new(&second_key)).await.expect("check"),
        ApiKeyCheck::Valid(admin_only)
    );

    assert!(stdout(&admin(&table, &["set-linking", "acme", "on"])).contains("on"));
    stdout(&admin(&table, &["set-linking", "acme", "off"]));

    for args in [
        &["set-linking", "acme", "maybe"][..],
        &["set-linking", "no-such-instance", "on"],
        &["create-instance", "acme"],
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

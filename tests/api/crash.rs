//! A crash between the provider call and the write: the local stack's process is killed while
//! its login waits on DynamoDB (before its first write, the identity's put, reaches it, and after
//! DynamoDB carried it out but before the answer came back: the identity is left pending, and the
//! retry finishes it). A retry of the same login, on a new process, succeeds,
//! and the person is exactly one user. The same for a deletion killed after its first step: the
//! user's credentials are refused, and the retry on a new process finishes it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use local_stack::counting_proxy::{CountingProxy, DynamoFault};
use local_stack::dynamodb_local::repo_root;
use local_stack::Template;
use serde_json::Value;

use crate::helpers::*;

/// The demo Google user of the samples (its ID token is signed by the emulator's fixture keys,
/// so every new process accepts it).
const SAMPLE: &str = "events/google-login/200-success.json";
const SUB: &str = "100000000000000000001";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// The `local-stack` binary, built as the tests are (`CARGO_BIN_EXE_*` only names the binaries
/// of the test's own package, and this crate is not `local-stack`).
fn local_stack_binary() -> &'static std::path::Path {
    static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "--locked", "-p", "local-stack", "--bin", "local-stack", "--message-format=json"]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let out = build.current_dir(repo_root()).stderr(Stdio::inherit()).output().expect("cargo build local-stack");
        assert!(out.status.success(), "cargo build -p local-stack --bin local-stack failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "local-stack")
            .find_map(|m| m["executable"].as_str().map(std::path::PathBuf::from))
            .expect("cargo names the local-stack executable")
    })
}

/// `local-stack` on `port`, its DynamoDB requests through `proxy`, its table `table`.
async fn start_stack(port: u16, proxy: &CountingProxy, table: &str) -> tokio::process::Child {
    let child = tokio::process::Command::new(local_stack_binary())
        .args(["--port", &port.to_string(), "--emulator-port", &free_port().to_string()])
        .args(["--dynamodb-endpoint", proxy.endpoint(), "--env", &format!("TABLE_NAME={table}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("local-stack");
    let started = Instant::now();
    while reqwest::get(format!("http://127.0.0.1:{port}/")).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "local-stack did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

async fn login(port: u16) -> reqwest::Result<(u16, Value)> {
    let sample: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join(SAMPLE)).expect("sample")).expect("json");
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1.1/instances/{INSTANCE}/user/auth/google-oauth2/"))
        .header("x-api-key", EVENT_API_KEY)
        .header("content-type", "application/json")
        .body(sample["body"].as_str().unwrap_or_default().to_string())
        .timeout(Duration::from_secs(30))
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or_default()))
}

async fn items(client: &aws_sdk_dynamodb::Client, table: &str, prefix: &str) -> Vec<Item> {
    let out = client.scan().table_name(table).send().await.expect("scan");
    out.items()
        .iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with(prefix)))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_killed_mid_write_is_retried_into_exactly_one_user() {
    let upstream = local_stack::dynamodb_local::endpoint_for_tests();
    let client = shared::usecases::app::local_dynamodb_client(upstream);
    for fault in [DynamoFault::HangBeforeForwarding, DynamoFault::HangAfterForwarding] {
        let table = format!("crash-{}", free_port());
        let template = Template::load(repo_root().join("template.yaml")).expect("template");
        template.table().create(&client, &table).await.expect("table");
        let proxy = CountingProxy::start(upstream).await.expect("proxy");
        let port = free_port();
        let mut stack = start_stack(port, &proxy, &table).await;

        // Issue 33: the first put of a first login is the identity's, which decides (pending).
        let seen = proxy.seen("PutItem");
        proxy.fail(fault, Some("PutItem"), 1);
        let pending = tokio::spawn(login(port));
        let started = Instant::now();
        // Before: the put reached the proxy. After: DynamoDB has carried it out.
        let wanted = usize::from(fault == DynamoFault::HangAfterForwarding);
        while proxy.seen("PutItem") == seen || items(&client, &table, "IDENT#").await.len() < wanted {
            assert!(started.elapsed() < Duration::from_secs(20), "{fault:?}: the login never reached its write");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stack.kill().await.expect("kill -9");
        assert!(pending.await.expect("task").is_err(), "{fault:?}: the killed login must not answer");
        assert_eq!(items(&client, &table, "USER#").await.len(), 0, "{fault:?}");
        let identities = items(&client, &table, "IDENT#").await;
        assert_eq!(identities.len(), wanted, "{fault:?}");
        assert!(identities.iter().all(|i| i.contains_key("pending")), "{fault:?}: the identity is pending");

        proxy.heal();
        let port = free_port();
        let _stack = start_stack(port, &proxy, &table).await;
        let (status, user) = login(port).await.expect("retry");
        assert_eq!(status, 200, "{fault:?}: {user}");
        let (status, again) = login(port).await.expect("again");
        assert_eq!((status, &again["id"]), (200, &user["id"]));
        assert_eq!(items(&client, &table, "USER#").await.len(), 1, "{fault:?}: one user");
        let identities = items(&client, &table, "IDENT#").await;
        assert_eq!(identities.len(), 1, "{fault:?}");
        assert!(identities.iter().all(|i| i["pk"].as_s().is_ok_and(|pk| pk.contains(SUB))));
        assert!(!identities[0].contains_key("pending"), "{fault:?}: finished by the retry");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_killed_after_its_first_step_refuses_the_user_and_is_finished_by_a_retry() {
    let upstream = local_stack::dynamodb_local::endpoint_for_tests();
    let client = shared::usecases::app::local_dynamodb_client(upstream);
    let table = format!("crash-del-{}", free_port());
    let template = Template::load(repo_root().join("template.yaml")).expect("template");
    template.table().create(&client, &table).await.expect("table");
    let proxy = CountingProxy::start(upstream).await.expect("proxy");
    let port = free_port();
    let mut stack = start_stack(port, &proxy, &table).await;
    let (status, user) = login(port).await.expect("login");
    assert_eq!(status, 200, "{user}");
    let (id, key) = (user["id"].to_string(), user["user_key"].as_str().unwrap_or_default().to_string());
    let delete = |port: u16| {
        let url = format!("http://127.0.0.1:{port}/v1.1/instances/{INSTANCE}/users/{id}/");
        async move {
            let resp = reqwest::Client::new()
                .delete(url)
                .header("x-api-key", ADMIN_API_KEY)
                .timeout(Duration::from_secs(30))
                .send()
                .await?;
            reqwest::Result::Ok(resp.status().as_u16())
        }
    };

    // Step 1 (the tombstone, one UpdateItem) is carried out by DynamoDB; its answer never comes back.
    proxy.fail(DynamoFault::HangAfterForwarding, Some("UpdateItem"), 1);
    let pending = tokio::spawn(delete(port));
    let started = Instant::now();
    let tombstoned = |items: Vec<Item>| items.iter().any(|i| i.contains_key("deleted_at"));
    while !tombstoned(items(&client, &table, "USER#").await) {
        assert!(started.elapsed() < Duration::from_secs(20), "the deletion never reached its first step");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stack.kill().await.expect("kill -9");
    assert!(pending.await.expect("task").is_err(), "the killed deletion must not answer");
    proxy.heal();

    let port = free_port();
    let _stack = start_stack(port, &proxy, &table).await;
    let user_route = format!("http://127.0.0.1:{port}/v1.1/instances/{INSTANCE}/user/");
    let resp = reqwest::Client::new()
        .get(&user_route)
        .header("x-api-key", EVENT_API_KEY)
        .header("x-user-key", &key)
        .send()
        .await
        .expect("user/");
    assert_eq!(resp.status().as_u16(), 403, "a tombstoned user's key is refused");
    assert_eq!(delete(port).await.expect("retry"), 204);
    assert!(items(&client, &table, "USER#").await.is_empty(), "the tombstone is gone");
    assert!(items(&client, &table, "IDENT#").await.is_empty());
    assert_eq!(items(&client, &table, "AUDIT#").await.len(), 1);
    // The person's next sign-in is a new user.
    let (status, again) = login(port).await.expect("login again");
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["id"], user["id"]);
}

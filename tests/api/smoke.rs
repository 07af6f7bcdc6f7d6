//! `scripts/smoke`, the post-deploy smoke test, against the local gateway: it passes on a
//! healthy stack and fails (exit 1) when the stack answers otherwise.

use crate::helpers::*;

/// Runs `scripts/smoke BASE_URL --instance INSTANCE` with `env`; its exit code and output.
async fn smoke(base: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = tokio::process::Command::new("python3")
        .arg(local_stack::dynamodb_local::repo_root().join("scripts/smoke"))
        .args([base, "--instance", INSTANCE])
        .env_remove("SMOKE_API_KEY")
        .env_remove("SMOKE_TOKEN")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("python3 scripts/smoke");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smoke_test_passes_on_a_healthy_stack_and_fails_otherwise() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Smoke Test", None);

    // Without secrets: the probes only.
    let (code, out) = smoke(&t.base, &[]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("smoke: 6 passed, 0 failed"), "{out}");

    // With the API key and a token: both dialects' full logins too.
    let env = [("SMOKE_API_KEY", t.api_key.as_str()), ("SMOKE_TOKEN", token.as_str())];
    let (code, out) = smoke(&t.base, &env).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("smoke: 14 passed, 0 failed"), "{out}");
    assert!(!out.contains(&token) && !out.contains(&t.api_key), "the smoke test prints no secret");

    // A token of another app: the logins fail, and so does the smoke test.
    let other = t.token(&t.emulator.create_facebook_user("Other App", None), OTHER_APP_ID, 3600);
    let (code, out) = smoke(&t.base, &[("SMOKE_API_KEY", t.api_key.as_str()), ("SMOKE_TOKEN", other.as_str())]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL  POST /api/v1/login -> 200 (login): got 401"), "{out}");

    // Not our API at all, and nobody listening.
    let (code, out) = smoke(&format!("{}/elsewhere", t.base), &[]).await;
    assert_eq!(code, Some(1), "{out}");
    let (code, out) = smoke("http://127.0.0.1:9", &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("no answer"), "{out}");
    // Usage errors.
    let (code, _) = smoke("ftp://example.com", &[]).await;
    assert_eq!(code, Some(2));
}

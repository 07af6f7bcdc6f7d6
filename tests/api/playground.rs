//! The sign-in playground (issue 32) in a real browser: Debian's Chromium headless over
//! WebDriver signs in through the emulator's consent pages with Facebook, Google and Apple in
//! both dialects, reads the user's name from the page, asks `me`, resets the user key (Syncano)
//! or logs out everywhere else (Rocket.Chat), deletes the account, and sees the next
//! sign-in of the same person make a new user; then signs in once with each other provider
//! (X, GitHub, LinkedIn, Microsoft, the demo instance's custom OpenID Connect provider). Skipped (with a message) only when chromedriver
//! is absent and `REQUIRE_BROWSER` is not set; CI sets it.

use std::time::{Duration, Instant};

use local_stack::dynamodb_local::repo_root;
use local_stack::playground::{PlaygroundConfig, PATH};
use local_stack::Template;

use crate::helpers::*;
use crate::webdriver::Browser;

const WAIT: Duration = Duration::from_secs(30);

/// The local stack's gateway for `t`'s app with the playground merged, as `cargo run -p
/// local-stack` serves it; its base URL.
async fn serve_with_playground(t: &TestApp) -> String {
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    let emulator_url = t.vars.get("FACEBOOK_GRAPH_URL").expect("the emulator's URL").clone();
    let router = local_stack::gateway::for_template(&template, t.app.clone())
        .expect("gateway")
        .merge(local_stack::playground::router(PlaygroundConfig::demo(&emulator_url).with_demo_oidc()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(local_stack::gateway::serve(listener, router, std::future::pending()));
    base
}

/// Who to sign in as on the consent page.
enum Person<'a> {
    New(&'a str),
    Existing(&'a str),
}

struct SignedIn {
    status: String,
    name: String,
    id: String,
}

async fn sign_in(browser: &Browser, base: &str, provider: &str, dialect: &str, person: Person<'_>) -> SignedIn {
    browser.goto(&format!("{base}{PATH}")).await;
    browser.find("body[data-ready=true]").await;
    browser.click(&format!("#provider option[value={provider}]")).await;
    browser.click(&format!("#dialect option[value={dialect}]")).await;
    browser.click("#sign-in").await;
    // The emulator's consent page.
    match person {
        Person::New(name) => {
            browser.click("#person-new").await;
            browser.send_keys("#new-name", name).await;
        }
        Person::Existing(name) => browser.click(&format!("input[data-name=\"{name}\"]")).await,
    }
    browser.click("#allow").await;
    // Back on the playground, which calls the login.
    let status = browser.wait_text("#login-status", WAIT).await;
    let error = browser.text("#error").await;
    assert_eq!(status, "200", "{provider} {dialect}: {}\n{error}", browser.text("#login-body").await);
    SignedIn { status, name: browser.text("#user-name").await, id: browser.text("#user-id").await }
}

/// Clicks a next step's button and checks the status the page shows.
async fn step(browser: &Browser, button: &str, expected: &str) {
    browser.click(button).await;
    let status = browser.wait_text("#step-status", WAIT).await;
    assert_eq!(status, expected, "{button}: {}", browser.text("#step-body").await);
}

async fn delete_account(browser: &Browser, dialect: &str) {
    browser.click("#step-delete").await;
    let status = browser.wait_text("#step-status", WAIT).await;
    let expected = if dialect == "syncano" { "204" } else { "200" };
    assert_eq!(status, expected, "deletion in {dialect}: {}", browser.text("#step-body").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn playground_signs_in_with_facebook_google_and_apple_in_both_dialects_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        eprintln!(
            "SKIPPED: {} is absent and REQUIRE_BROWSER is not set (apt-get install chromium chromium-driver)",
            crate::webdriver::CHROMEDRIVER
        );
        return;
    };
    let started = Instant::now();
    let t = spawn_app().await;
    local_stack::demo::seed_playground_oidc(&t.app, &t.emulator).await.expect("the playground's OIDC provider");
    let base = serve_with_playground(&t).await;
    let run = rand::random::<u32>() % 100_000;
    for provider in ["facebook", "google", "apple"] {
        for dialect in ["syncano", "rocketchat"] {
            let name = format!("Ada {provider} {dialect} {run}");
            let first = sign_in(&browser, &base, provider, dialect, Person::New(&name)).await;
            assert_eq!(first.status, "200");
            if dialect == "rocketchat" {
                assert_eq!(first.name, name, "{provider}: the name Rocket.Chat's `me` shows");
            } else {
                assert!(!first.name.is_empty(), "{provider}: the Syncano username");
            }
            assert!(!first.id.is_empty());
            step(&browser, "#step-me", "200").await;
            if dialect == "syncano" {
                // The admin key resets the user key; the page goes on with the new one.
                step(&browser, "#step-reset-key", "200").await;
            } else {
                step(&browser, "#step-logout-others", "200").await;
            }
            step(&browser, "#step-me", "200").await;
            delete_account(&browser, dialect).await;
            let again = sign_in(&browser, &base, provider, dialect, Person::Existing(&name)).await;
            assert_ne!(again.id, first.id, "{provider} {dialect}: the sign-in after the deletion is a new user");
        }
    }
    // Every other provider once (each dialect is served the same way as above).
    for (provider, dialect) in [
        ("twitter", "syncano"),
        ("github", "rocketchat"),
        ("linkedin", "syncano"),
        ("microsoft", "rocketchat"),
        ("microsoft", "syncano"),
        ("oidc", "syncano"),
        ("oidc", "rocketchat"),
    ] {
        let name = format!("Bea {provider} {dialect} {run}");
        let signed_in = sign_in(&browser, &base, provider, dialect, Person::New(&name)).await;
        if dialect == "rocketchat" {
            assert_eq!(signed_in.name, name, "{provider}: the name Rocket.Chat's `me` shows");
        }
        if provider == "github" {
            // Logging out ends the session: `me` is Rocket.Chat's 401 then.
            step(&browser, "#step-logout", "200").await;
            step(&browser, "#step-me", "401").await;
        }
    }
    // The picture in docs/ (`PLAYGROUND_SCREENSHOT=docs/playground.png`): Google in Rocket.Chat.
    sign_in(&browser, &base, "google", "rocketchat", Person::New(&format!("Ada Lovelace {run}"))).await;
    if let Some(path) = std::env::var_os("PLAYGROUND_SCREENSHOT") {
        std::fs::write(&path, browser.screenshot().await).expect("write the screenshot");
    }
    browser.quit().await;
    eprintln!("playground browser test: {:.1} s", started.elapsed().as_secs_f64());
}

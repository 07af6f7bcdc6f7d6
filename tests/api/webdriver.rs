//! A tiny W3C WebDriver client (plain reqwest + serde_json) for the playground's browser test:
//! starts `chromedriver`, opens one headless Chromium session with a fresh profile, and offers
//! navigate, find by CSS, click, send keys, text and screenshot.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    driver: tokio::process::Child,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; `None` when chromedriver is absent and
    /// `REQUIRE_BROWSER` is not set (the caller skips with a message). Panics on any other failure.
    ///
    /// `BROWSER_WAIT_SECS` (default 0): how long to wait for chromedriver to appear first (CI
    /// installs Chromium in the background, beside the tests' build).
    pub async fn start() -> Option<Browser> {
        let wait = std::env::var("BROWSER_WAIT_SECS").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(wait);
        while !std::path::Path::new(CHROMEDRIVER).exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if !std::path::Path::new(CHROMEDRIVER).exists() {
            assert!(
                std::env::var_os("REQUIRE_BROWSER").is_none(),
                "REQUIRE_BROWSER is set but {CHROMEDRIVER} is absent (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("addr").port()
        };
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(r) => r.json::<Value>().await.ok().and_then(|v| v["value"]["ready"].as_bool()).unwrap_or(false),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready on port {port}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("playground-chromium-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1100,1500".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("new session answer");
        let id = answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {answer}")).to_owned();
        let browser = Browser { http, session: format!("{base}/session/{id}"), driver, profile };
        browser.command("POST", "/timeouts", json!({ "implicit": 20_000, "pageLoad": 30_000 })).await;
        Some(browser)
    }

    /// One WebDriver command; panics on a WebDriver error (with its message).
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.session);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let response = request.send().await.unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "webdriver {method} {path}: {status} {answer}");
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url })).await;
    }

    pub async fn url(&self) -> String {
        self.command("GET", "/url", Value::Null).await.as_str().unwrap_or_default().to_owned()
    }

    /// The element matching `css` (waiting up to the implicit timeout).
    pub async fn find(&self, css: &str) -> String {
        let found = self.command("POST", "/element", json!({ "using": "css selector", "value": css })).await;
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element id for {css}: {found}")).to_owned()
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command("POST", &format!("/element/{element}/click"), json!({})).await;
    }

    pub async fn send_keys(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command("POST", &format!("/element/{element}/clear"), json!({})).await;
        self.command("POST", &format!("/element/{element}/value"), json!({ "text": text })).await;
    }

    /// The rendered text of the element matching `css` ("" while it is hidden).
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.command("GET", &format!("/element/{element}/text"), Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits (up to `timeout`) until the element matching `css` shows some text; that text.
    pub async fn wait_text(&self, css: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text(css).await;
            if !text.trim().is_empty() {
                return text;
            }
            if Instant::now() > deadline {
                let page = self.text("body").await;
                panic!("{css} stayed empty for {timeout:?} at {}; the page says:\n{page}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let data = self.command("GET", "/screenshot", Value::Null).await;
        base64::engine::general_purpose::STANDARD.decode(data.as_str().unwrap_or_default()).expect("PNG base64")
    }

    /// Ends the session and chromedriver.
    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        let _ = self.driver.kill().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

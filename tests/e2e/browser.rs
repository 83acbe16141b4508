//! The playground in a real browser: headless Chromium (Debian's chromium +
//! chromium-driver) driven over WebDriver opens the router's playground,
//! types `{ __typename }`, runs it and sees the result. Every request to a
//! host other than 127.0.0.1 goes to a dead proxy, so the page must work
//! with no internet: its assets come from our router.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::helpers::System;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The Laboratory renders into this element's shadow root.
const ROOT: &str = "const root = document.querySelector('.hive-laboratory-host').shadowRoot;";

struct Browser {
    _driver: Child,
    http: reqwest::Client,
    session: String,
    base: String,
}

impl Browser {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; `make test` installs it)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let profile = std::env::temp_dir().join(format!("jt-chromium-{}", uuid::Uuid::new_v4()));
        let capabilities = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,900",
                format!("--user-data-dir={}", profile.display()),
                "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",
            ],
        } } } });
        let deadline = Instant::now() + Duration::from_secs(20);
        let session = loop {
            match http.post(format!("{base}/session")).json(&capabilities).send().await {
                Ok(response) => {
                    let body: Value = response.json().await.unwrap();
                    break body["value"]["sessionId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no session: {body}"))
                        .to_string();
                }
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(err) => panic!("chromedriver did not start: {err}"),
            }
        };
        Self { _driver: driver, http, session, base }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let response = self.http.request(method, url).json(&body).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "WebDriver {path}: {body}");
        body["value"].clone()
    }

    async fn js(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", json!({ "script": script, "args": [] })).await
    }

    /// Polls a script until it returns a truthy value.
    async fn wait_for(&self, script: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let value = self.js(script).await;
            if !(value.is_null() || value == json!(false) || value == json!("")) {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn type_text(&self, text: &str) {
        let keys: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                [
                    json!({ "type": "keyDown", "value": c.to_string() }),
                    json!({ "type": "keyUp", "value": c.to_string() }),
                ]
            })
            .collect();
        self.call(
            reqwest::Method::POST,
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": keys }] }),
        )
        .await;
    }

    async fn quit(&self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_runs_a_query_in_a_browser_without_internet() {
    let system = System::start().await;
    let browser = Browser::start().await;
    browser.call(reqwest::Method::POST, "/url", json!({ "url": system.router.graphql_url() })).await;

    // Open a new operation tab.
    let add = format!(
        "{ROOT} const b = [...root.querySelectorAll('button')].find(b => b.innerText.trim() === 'Add operation'); if (b) {{ b.click(); return true; }} return false;"
    );
    browser.wait_for(&add, "the Add operation button").await;
    // The editor, and the schema from introspection through the router.
    let editor = browser
        .wait_for(&format!("{ROOT} return root.querySelector('.monaco-editor .view-lines')"), "the editor")
        .await;
    browser
        .wait_for(&format!("{ROOT} return root.textContent.includes('accessTokenLifetime')"), "the schema explorer")
        .await;

    let element = editor.as_object().unwrap().values().next().unwrap().as_str().unwrap().to_string();
    browser.call(reqwest::Method::POST, &format!("/element/{element}/click"), json!({})).await;
    browser.type_text("{ __typename }").await;
    browser
        .wait_for(
            &format!("{ROOT} return root.querySelector('.monaco-editor').innerText.includes('__typename')"),
            "the typed query",
        )
        .await;
    browser
        .js(&format!("{ROOT} [...root.querySelectorAll('button')].find(b => b.innerText.trim() === 'Run').click();"))
        .await;

    let response = browser
        .wait_for(
            &format!("{ROOT} const r = [...root.querySelectorAll('.monaco-editor')].map(e => e.innerText).find(t => t.includes('\"data\"')); return r || null;"),
            "the response",
        )
        .await;
    let text = response.as_str().unwrap().replace('\u{a0}', " ");
    assert!(text.contains("\"__typename\": \"Query\""), "response shown: {text}");
    browser.quit().await;
}

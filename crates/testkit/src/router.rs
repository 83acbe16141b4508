//! The router as a child process (it runs its own ntex runtime), on a free
//! port, pointed at a test's subgraphs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::services::Stack;

pub struct RouterProcess {
    child: Child,
    pub port: u16,
}

#[derive(Default, Clone)]
pub struct RouterOptions {
    /// Extra environment variables (e.g. RATE_LIMIT_*).
    pub env: Vec<(String, String)>,
    pub supergraph: Option<PathBuf>,
}

/// The workspace's schema/supergraph.graphql.
pub fn workspace_supergraph() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/supergraph.graphql")
}

/// A port nothing listens on right now (for a process started next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

impl RouterProcess {
    /// Starts `binary run --target router` and waits until it answers queries.
    pub async fn start(binary: &Path, stack: &Stack, options: RouterOptions) -> Self {
        let port = free_port();
        let mut command = Command::new(binary);
        command
            .args(["run", "--target", "router", "--supergraph"])
            .arg(options.supergraph.clone().unwrap_or_else(workspace_supergraph))
            .env("ROUTER_PORT", port.to_string())
            .env("ROUTER_WORKERS", "2")
            .env("ROUTER_LOG_LEVEL", "warn")
            .env("RATE_LIMIT_PER_SECOND", "10000")
            .env("RATE_LIMIT_BURST", "10000")
            .envs(stack.subgraph_urls())
            .envs(options.env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let child = command.spawn().expect("router binary starts");
        let router = Self { child, port };
        router.wait_until_ready().await;
        router
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.url())
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/graphql", self.port)
    }

    /// Sockets the router process holds open right now (Linux).
    pub fn open_sockets(&self) -> usize {
        let Some(pid) = self.child.id() else { return 0 };
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:")))
                    .count()
            })
            .unwrap_or(0)
    }

    async fn wait_until_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            // Readiness, not a query: a production router answers only trusted documents.
            let ready =
                client.get(format!("{}/readiness", self.url())).send().await.is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("router on port {} did not become ready", self.port);
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        }
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("router stops within 20 s")
            .expect("router exit status")
    }
}

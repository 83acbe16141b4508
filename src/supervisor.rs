//! `--target all`: one child process per service (the subgraphs on tokio,
//! the router on ntex), exactly as they run in production, supervised here:
//! logs prefixed with the service name, a crashed child restarted with
//! backoff, SIGINT/SIGTERM forwarded so every child drains and stops. The
//! children share one `SERVICE_TOKEN` (generated when unset) for their
//! internal calls.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use jobtracker_kit::service::process_url;
use jobtracker_kit::service_token::{self, ServiceToken};
use jobtracker_services::SERVICES;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::cli::Target;

pub fn run_all(supergraph: Option<PathBuf>) -> anyhow::Result<()> {
    jobtracker_kit::telemetry::init();
    // The children call each other's internal routes with one shared secret:
    // the configured one, else a random one for this run (so `make run`
    // needs no configuration, and no service ever runs with an open door).
    let service_token = match ServiceToken::from_env()? {
        Some(token) => token,
        None => {
            tracing::info!("{} not set: generated one for this run's services", service_token::ENV);
            ServiceToken::generate()
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let shutdown = jobtracker_kit::server::shutdown_on_signal();
        let mut children = Vec::new();
        for spec in SERVICES {
            children.push(tokio::spawn(supervise(
                Target::Service(spec),
                None,
                service_token.clone(),
                shutdown.clone(),
            )));
        }
        // Give the subgraphs a moment so the first requests find them, but
        // never hold the router back for long: it serves without them.
        let deadline = Instant::now() + Duration::from_secs(20);
        for spec in SERVICES {
            wait_for_health(&process_url(spec), deadline, &shutdown).await;
        }
        children.push(tokio::spawn(supervise(Target::Router, supergraph, service_token, shutdown.clone())));
        tracing::info!(
            "router on http://{}:{}/graphql (playground in a browser)",
            jobtracker_kit::env::env_or("ROUTER_HOST", "127.0.0.1"),
            jobtracker_kit::env::env_or("ROUTER_PORT", "4000")
        );
        for child in children {
            child.await??;
        }
        Ok(())
    })
}

async fn wait_for_health(base_url: &str, deadline: Instant, shutdown: &CancellationToken) {
    let client = reqwest::Client::new();
    while Instant::now() < deadline && !shutdown.is_cancelled() {
        if client.get(format!("{base_url}/health")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tracing::warn!(%base_url, "not healthy yet; starting the router anyway");
}

/// Keeps one service running until shutdown.
async fn supervise(
    target: Target,
    supergraph: Option<PathBuf>,
    service_token: ServiceToken,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let name = target.name();
    let mut backoff = Duration::from_millis(500);
    loop {
        let started = Instant::now();
        let mut child = spawn(target, supergraph.as_ref(), &service_token)?;
        let status = tokio::select! {
            status = child.wait() => status?,
            _ = shutdown.cancelled() => {
                terminate(&child);
                match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
                    Ok(status) => tracing::info!(service = name, status = %status?, "stopped"),
                    Err(_) => {
                        tracing::warn!(service = name, "did not stop within 30 s, killing");
                        child.kill().await?;
                    }
                }
                return Ok(());
            }
        };
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_millis(500);
        }
        tracing::error!(service = name, %status, restart_in_ms = backoff.as_millis() as u64, "exited, restarting");
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.cancelled() => return Ok(()),
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

fn spawn(target: Target, supergraph: Option<&PathBuf>, service_token: &ServiceToken) -> anyhow::Result<Child> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["run", "--target", target.name()])
        .env_remove("JOBTRACKER_TARGET")
        // Each child's exported spans name it.
        .env("OTEL_SERVICE_NAME", target.name())
        .env(service_token::ENV, service_token.expose());
    if let Some(path) = supergraph {
        command.arg("--supergraph").arg(path);
    }
    // Its own process group: a terminal's Ctrl-C reaches the supervisor only,
    // which then stops the children in order.
    command.process_group(0).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = command.spawn()?;
    let prefix = format!("[{:<6}]", target.name());
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward(out, prefix.clone(), false));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward(err, prefix, true));
    }
    Ok(child)
}

async fn forward(stream: impl AsyncRead + Unpin, prefix: String, to_stderr: bool) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if to_stderr {
            eprintln!("{prefix} {line}");
        } else {
            println!("{prefix} {line}");
        }
    }
}

/// SIGTERM: the child drains in-flight requests and stops its workers.
#[allow(unsafe_code)]
fn terminate(child: &Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) on a pid we spawned and still own (not yet reaped).
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    }
}

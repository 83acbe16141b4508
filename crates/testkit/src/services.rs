//! Subgraphs started in the test process on port 0.

use std::net::SocketAddr;

use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceEnv, ServiceSpec, all_queues};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::TestEnv;

/// A service running in the background of a test.
pub struct Running {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    pub fn start(app: ServiceApp) -> Self {
        let addr = app.local_addr();
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Self { addr, shutdown, handle: Some(handle) }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.url())
    }

    /// Stops gracefully and reports how the service ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        match self.handle.take() {
            Some(handle) => handle.await?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Builds `spec` in `env` and runs it in the background.
pub async fn spawn(spec: &ServiceSpec, env: ServiceEnv) -> Running {
    match (spec.build)(env).await {
        Ok(app) => Running::start(app),
        Err(err) => panic!("{} does not start: {err:#}", spec.name),
    }
}

/// Services of the table started in order, each knowing the URLs of those
/// started before it, on one test's fresh databases and bus. A crate's tests
/// start just what they need; the end-to-end tests start the whole table.
pub struct Stack {
    pub env: TestEnv,
    running: Vec<(&'static str, Running)>,
}

impl Stack {
    pub async fn start(table: &[&'static ServiceSpec]) -> Self {
        Self::start_in(TestEnv::new(), table).await
    }

    pub async fn start_in(env: TestEnv, table: &[&'static ServiceSpec]) -> Self {
        Self::start_in_with(env, table, &[]).await
    }

    /// The same, every service also reading `vars` (e.g. the files
    /// service's S3 settings).
    pub async fn start_with(table: &[&'static ServiceSpec], vars: &[(String, String)]) -> Self {
        Self::start_in_with(TestEnv::new(), table, vars).await
    }

    async fn start_in_with(env: TestEnv, table: &[&'static ServiceSpec], vars: &[(String, String)]) -> Self {
        let queues = all_queues(table);
        let mut running: Vec<(&'static str, Running)> = Vec::new();
        for spec in table {
            let mut service_env = env.service_env(spec);
            service_env.vars = vars.iter().fold(service_env.vars, |all, (key, value)| all.with(key, value));
            service_env.service.events.queues = queues.clone();
            for (name, service) in &running {
                service_env = service_env.with_url(name, &service.url());
            }
            running.push((spec.name, spawn(spec, service_env).await));
        }
        Self { env, running }
    }

    /// `<NAME>_URL` for the router, per service.
    pub fn subgraph_urls(&self) -> Vec<(String, String)> {
        self.running
            .iter()
            .map(|(name, service)| (format!("{}_URL", name.to_ascii_uppercase()), service.url()))
            .collect()
    }
}

impl std::ops::Index<&str> for Stack {
    type Output = Running;

    fn index(&self, name: &str) -> &Running {
        match self.running.iter().find(|(running, _)| *running == name) {
            Some((_, service)) => service,
            None => panic!("{name} is not part of this stack"),
        }
    }
}

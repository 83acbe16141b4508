//! Subgraphs started in the test process on port 0.

use std::net::SocketAddr;

use jobtracker_kit::server::ServiceApp;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::env::TestEnv;

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

/// auth's configuration for a test: port 0, the test's database and bus.
pub fn auth_config(env: &TestEnv) -> jobtracker_auth::Config {
    jobtracker_auth::Config {
        service: env.service_config(jobtracker_auth::SERVICE),
        throttle: jobtracker_auth::service::LoginThrottle { max_failures: 5, window: chrono::Duration::minutes(15) },
        max_concurrent_hashes: 4,
        service_token: Some(env.service_token.clone()),
    }
}

pub async fn spawn_auth(env: &TestEnv) -> Running {
    Running::start(jobtracker_auth::build(auth_config(env)).await.expect("auth starts"))
}

pub async fn spawn_users(env: &TestEnv, auth_url: &str) -> Running {
    let config = jobtracker_users::Config {
        service: env.service_config(jobtracker_users::SERVICE),
        auth_url: auth_url.to_string(),
        service_token: Some(env.service_token.clone()),
    };
    Running::start(jobtracker_users::build(config).await.expect("users starts"))
}

pub async fn spawn_applications(env: &TestEnv, auth_url: &str) -> Running {
    let config = jobtracker_applications::Config {
        service: env.service_config(jobtracker_applications::SERVICE),
        auth_url: auth_url.to_string(),
    };
    Running::start(jobtracker_applications::build(config).await.expect("applications starts"))
}

pub async fn spawn_interviews(env: &TestEnv, auth_url: &str, applications_url: &str) -> Running {
    let config = jobtracker_interviews::Config {
        service: env.service_config(jobtracker_interviews::SERVICE),
        auth_url: auth_url.to_string(),
        applications_url: applications_url.to_string(),
    };
    Running::start(jobtracker_interviews::build(config).await.expect("interviews starts"))
}

pub async fn spawn_analytics(env: &TestEnv, auth_url: &str) -> Running {
    let config = jobtracker_analytics::Config {
        service: env.service_config(jobtracker_analytics::SERVICE),
        auth_url: auth_url.to_string(),
    };
    Running::start(jobtracker_analytics::build(config).await.expect("analytics starts"))
}

pub async fn spawn_dashboard(env: &TestEnv, auth_url: &str, applications_url: &str, interviews_url: &str) -> Running {
    let config = jobtracker_dashboard::Config {
        service: env.service_config(jobtracker_dashboard::SERVICE),
        auth_url: auth_url.to_string(),
        applications_url: applications_url.to_string(),
        interviews_url: interviews_url.to_string(),
    };
    Running::start(jobtracker_dashboard::build(config).await.expect("dashboard starts"))
}

/// Every subgraph, wired to each other, with fresh databases.
pub struct Stack {
    pub env: TestEnv,
    pub auth: Running,
    pub users: Running,
    pub applications: Running,
    pub interviews: Running,
    pub analytics: Running,
    pub dashboard: Running,
}

impl Stack {
    pub async fn start() -> Self {
        let env = TestEnv::new();
        let auth = spawn_auth(&env).await;
        let users = spawn_users(&env, &auth.url()).await;
        let applications = spawn_applications(&env, &auth.url()).await;
        let interviews = spawn_interviews(&env, &auth.url(), &applications.url()).await;
        let analytics = spawn_analytics(&env, &auth.url()).await;
        let dashboard = spawn_dashboard(&env, &auth.url(), &applications.url(), &interviews.url()).await;
        Self { env, auth, users, applications, interviews, analytics, dashboard }
    }

    /// `<NAME>_URL` for the router, per subgraph.
    pub fn subgraph_urls(&self) -> Vec<(String, String)> {
        vec![
            ("AUTH_URL".into(), self.auth.url()),
            ("USERS_URL".into(), self.users.url()),
            ("APPLICATIONS_URL".into(), self.applications.url()),
            ("INTERVIEWS_URL".into(), self.interviews.url()),
            ("ANALYTICS_URL".into(), self.analytics.url()),
            ("DASHBOARD_URL".into(), self.dashboard.url()),
        ]
    }
}

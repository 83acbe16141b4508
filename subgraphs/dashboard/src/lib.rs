//! dashboard subgraph: one query composing the viewer's applications and
//! interviews (synchronous calls), and a subscription that pushes it again
//! whenever one of their application or interview events arrives. Each
//! replica listens on its own exclusive queue, so every replica can push to
//! its own WebSocket clients.

pub mod schema;
pub mod upstream;

use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::config::ServiceConfig;
use jobtracker_kit::events::Fanout;
use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceEnv, ServiceSpec};
use tokio_util::sync::CancellationToken;

use crate::upstream::Upstream;

pub use schema::{DashboardSchema, schema_builder};

pub const SERVICE: &str = "dashboard";
pub const DEFAULT_PORT: u16 = 4006;
/// The events that change a dashboard.
pub const WATCHED: &[&str] = &["application.*", "interview.*"];

/// This service in the table of services.
pub const SPEC: ServiceSpec =
    jobtracker_kit::subgraph_spec!(migrations: None, consumes: &[], calls: &["auth", "applications", "interviews"]);

#[derive(Clone, Debug)]
pub struct Config {
    pub service: ServiceConfig,
    pub auth_url: String,
    pub applications_url: String,
    pub interviews_url: String,
}

impl Config {
    pub fn load(env: &ServiceEnv) -> anyhow::Result<Self> {
        Ok(Self {
            service: env.service.clone(),
            auth_url: env.url("auth")?,
            applications_url: env.url("applications")?,
            interviews_url: env.url("interviews")?,
        })
    }
}

/// The dashboard owns no data, so it has no database: only the event feed.
pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let background = CancellationToken::new();
    let fanout = Fanout::spawn(config.service.bus.clone(), WATCHED, background.clone());
    let schema = schema_builder()
        .data(Upstream::new(&config.applications_url, &config.interviews_url, config.service.upstream_timeout))
        .data(fanout.clone())
        .finish();
    let routes = jobtracker_kit::graphql::subgraph_routes(schema, TokenVerifier::for_auth_service(&config.auth_url));
    Ok(ServiceApp::bind(SERVICE, config.service.addr, routes).await?.with_background(background))
}

//! dashboard subgraph: one query composing the viewer's applications and
//! interviews (synchronous calls), and a subscription that pushes it again
//! whenever one of their application or interview events arrives. Each
//! replica listens on its own exclusive queue, so every replica can push to
//! its own WebSocket clients.

pub mod schema;
pub mod upstream;

use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::config::{Infra, ServiceConfig, env_or};
use jobtracker_kit::events::Fanout;
use jobtracker_kit::server::ServiceApp;
use tokio_util::sync::CancellationToken;

use crate::upstream::Upstream;

pub use schema::{DashboardSchema, schema_builder};

pub const SERVICE: &str = "dashboard";
pub const DEFAULT_PORT: u16 = 4006;
/// The events that change a dashboard.
pub const WATCHED: &[&str] = &["application.*", "interview.*"];

#[derive(Clone, Debug)]
pub struct Config {
    pub service: ServiceConfig,
    pub auth_url: String,
    pub applications_url: String,
    pub interviews_url: String,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let infra = Infra::from_env();
        Ok(Self {
            service: ServiceConfig::from_env(&infra, SERVICE, DEFAULT_PORT)?,
            auth_url: infra.auth_url,
            applications_url: env_or("APPLICATIONS_URL", "http://127.0.0.1:4003"),
            interviews_url: env_or("INTERVIEWS_URL", "http://127.0.0.1:4004"),
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

//! Configuration every service shares, from environment variables with
//! defaults that work on a developer machine (every variable is listed in the
//! README). Each service's own settings are read from its `ServiceEnv`.

use crate::env::{env_or, env_parse};

/// Where PostgreSQL and RabbitMQ are, shared by every service.
#[derive(Clone, Debug)]
pub struct Infra {
    /// Server URL without a database name; each service appends `jobtracker_<service>`.
    pub database_base_url: String,
    pub amqp_url: String,
}

impl Infra {
    pub fn from_env() -> Self {
        Self {
            database_base_url: env_or("DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
                .trim_end_matches('/')
                .to_string(),
            amqp_url: env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
        }
    }
}

/// What every service needs: where it listens, the database it owns and the
/// event bus.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    pub addr: std::net::SocketAddr,
    pub database: crate::db::DatabaseConfig,
    pub bus: crate::events::amqp::EventBus,
    pub events: crate::events::EventsConfig,
    /// `SUBGRAPH_TIMEOUT_SECS`: the longest a call to another subgraph may take.
    pub upstream_timeout: std::time::Duration,
}

impl ServiceConfig {
    pub fn from_env(infra: &Infra, service: &str, default_port: u16) -> anyhow::Result<Self> {
        Ok(Self {
            addr: listen_addr(service, default_port)?,
            database: crate::db::DatabaseConfig::for_service(&infra.database_base_url, service)?,
            bus: crate::events::amqp::EventBus::from_env(&infra.amqp_url),
            events: crate::events::EventsConfig::from_env()?,
            upstream_timeout: std::time::Duration::from_secs(env_parse("SUBGRAPH_TIMEOUT_SECS", 5)?),
        })
    }
}

/// Host and port a service listens on (`<SERVICE>_HOST`, `<SERVICE>_PORT`).
pub fn listen_addr(service: &str, default_port: u16) -> anyhow::Result<std::net::SocketAddr> {
    let upper = service.to_ascii_uppercase();
    let host = env_or(&format!("{upper}_HOST"), "127.0.0.1");
    let port: u16 = env_parse(&format!("{upper}_PORT"), default_port)?;
    format!("{host}:{port}")
        .parse()
        .map_err(|err| anyhow::anyhow!("{upper}_HOST/{upper}_PORT do not form an address: {err}"))
}

//! A service described once. Each subgraph crate exports one `ServiceSpec`;
//! the table of services (crates/services) lists them, and `jobtracker run`,
//! `migrate`, the supervisor, schema composition and the tests all read that
//! table (the way Grafana Mimir registers its targets).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use async_graphql::{ObjectType, SDLExportOptions, Schema, SubscriptionType};
use diesel_migrations::EmbeddedMigrations;

use crate::config::{Infra, ServiceConfig};
use crate::env::Vars;
use crate::events::topology::QueueSpec;
use crate::server::ServiceApp;
use crate::service_token::ServiceToken;

pub type BuildFuture = Pin<Box<dyn Future<Output = anyhow::Result<ServiceApp>> + Send>>;

/// Everything the binary, the schema tool and the tests need to know about a
/// service.
pub struct ServiceSpec {
    pub name: &'static str,
    pub default_port: u16,
    /// The migrations of the database it owns (`None`: it owns none); a
    /// function because diesel's `EmbeddedMigrations` is neither `Copy` nor `Clone`.
    pub migrations: Option<fn() -> EmbeddedMigrations>,
    /// The durable queues it consumes.
    pub consumes: &'static [QueueSpec],
    /// The services it calls; their base URLs come from `ServiceEnv::url`.
    pub calls: &'static [&'static str],
    /// Its federation SDL, exported from its code.
    pub sdl: fn() -> String,
    /// Builds it (bound, not yet serving) from its environment.
    pub build: fn(ServiceEnv) -> BuildFuture,
}

impl std::fmt::Debug for ServiceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceSpec").field("name", &self.name).field("default_port", &self.default_port).finish()
    }
}

/// The `ServiceSpec` of a subgraph crate laid out as every subgraph is: its
/// `lib.rs` has `SERVICE`, `DEFAULT_PORT`, `schema_builder()`, `Config::load`
/// and `build(config)`. Only what differs is written out:
/// `subgraph_spec!(migrations: Some(|| MIGRATIONS), consumes: &[QUEUE], calls: &["auth"])`.
#[macro_export]
macro_rules! subgraph_spec {
    (migrations: $migrations:expr, consumes: $consumes:expr, calls: $calls:expr $(,)?) => {
        $crate::service::ServiceSpec {
            name: SERVICE,
            default_port: DEFAULT_PORT,
            migrations: $migrations,
            consumes: $consumes,
            calls: $calls,
            sdl: || $crate::service::federation_sdl(&schema_builder().finish()),
            build: |env| Box::pin(async move { build(Config::load(&env)?).await }),
        }
    };
}

/// The configuration of a subgraph that needs nothing but its own service
/// settings and auth (for tokens).
#[derive(Clone, Debug)]
pub struct SubgraphConfig {
    pub service: ServiceConfig,
    /// auth's base URL, for its JWKS.
    pub auth_url: String,
}

impl SubgraphConfig {
    pub fn load(env: &ServiceEnv) -> anyhow::Result<Self> {
        Ok(Self { service: env.service.clone(), auth_url: env.url("auth")? })
    }
}

/// The SDL a subgraph contributes to composition.
pub fn federation_sdl<Q, M, S>(schema: &Schema<Q, M, S>) -> String
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    schema.sdl_with_options(SDLExportOptions::new().federation().compose_directive())
}

/// Every consumer queue of `table`, which each relay declares.
pub fn all_queues(table: &[&ServiceSpec]) -> Vec<QueueSpec> {
    table.iter().flat_map(|spec| spec.consumes.iter().copied()).collect()
}

/// What a service is built from: its own listen address, database and event
/// bus, where the other services are, its own variables, and the credential
/// of internal calls.
#[derive(Clone, Debug)]
pub struct ServiceEnv {
    pub service: ServiceConfig,
    urls: BTreeMap<String, String>,
    pub vars: Vars,
    pub service_token: Option<ServiceToken>,
}

impl ServiceEnv {
    pub fn new(service: ServiceConfig, vars: Vars, service_token: Option<ServiceToken>) -> Self {
        Self { service, urls: BTreeMap::new(), vars, service_token }
    }

    /// Records where `service` answers (base URL, no path).
    pub fn with_url(mut self, service: &str, base_url: &str) -> Self {
        self.urls.insert(service.to_string(), base_url.trim_end_matches('/').to_string());
        self
    }

    /// The base URL of another service; the one place inter-service URLs come from.
    pub fn url(&self, service: &str) -> anyhow::Result<String> {
        self.urls.get(service).cloned().ok_or_else(|| anyhow::anyhow!("no URL is known for the {service} service"))
    }

    /// From the process environment: every service of `table` at `<NAME>_URL`,
    /// else on this host at its default port.
    pub fn from_process(spec: &ServiceSpec, table: &[&ServiceSpec]) -> anyhow::Result<Self> {
        let mut service = ServiceConfig::from_env(&Infra::from_env(), spec.name, spec.default_port)?;
        service.events.queues = all_queues(table);
        let mut env = Self::new(service, Vars::Process, ServiceToken::from_env()?);
        for other in table {
            env = env.with_url(other.name, &process_url(other));
        }
        Ok(env)
    }
}

/// Where a service of the table answers, from the process environment.
pub fn process_url(spec: &ServiceSpec) -> String {
    let default = format!("http://127.0.0.1:{}", spec.default_port);
    Vars::Process.or(&format!("{}_URL", spec.name.to_ascii_uppercase()), &default).trim_end_matches('/').to_string()
}

//! interviews subgraph: owns `Interview` and contributes
//! `Application.interviews`; follows applications' deletions.

pub mod events;
pub mod model;
pub mod schema;
pub mod store;
pub mod upstream;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::config::ServiceConfig;
use jobtracker_kit::db;
use jobtracker_kit::events::topology::QueueSpec;
use jobtracker_kit::events::{Consumer, Outbox};
use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceEnv, ServiceSpec};

use crate::events::ApplicationDeletionHandler;
use crate::store::Store;
use crate::upstream::ApplicationsClient;

pub use schema::{InterviewsSchema, schema_builder};

pub const SERVICE: &str = "interviews";
pub const DEFAULT_PORT: u16 = 4004;
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/interviews");
/// The interviews of deleted applications are deleted too.
pub const DELETIONS_QUEUE: QueueSpec =
    QueueSpec { name: "interviews.applications", bindings: &[jobtracker_kit::events::contracts::APPLICATION_DELETED] };

/// This service in the table of services.
pub const SPEC: ServiceSpec = jobtracker_kit::subgraph_spec!(migrations: Some(|| MIGRATIONS), consumes: &[DELETIONS_QUEUE], calls: &["auth", "applications"]);

#[derive(Clone, Debug)]
pub struct Config {
    pub service: ServiceConfig,
    pub auth_url: String,
    /// applications' base URL, to check linked applications.
    pub applications_url: String,
}

impl Config {
    pub fn load(env: &ServiceEnv) -> anyhow::Result<Self> {
        Ok(Self {
            service: env.service.clone(),
            auth_url: env.url("auth")?,
            applications_url: env.url("applications")?,
        })
    }
}

/// The store on a migrated database, for the service and for `jobtracker seed`.
pub async fn store(config: &ServiceConfig, outbox: Outbox) -> anyhow::Result<(Store, db::Pool)> {
    let pool = db::bootstrap(&config.database, MIGRATIONS).await?;
    Ok((Store::new(pool.clone(), outbox), pool))
}

pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let outbox = Outbox::default();
    let (store, pool) = store(&config.service, outbox.clone()).await?;
    let schema = schema::schema(
        store.clone(),
        ApplicationsClient::new(&config.applications_url, config.service.upstream_timeout),
    );
    let routes = jobtracker_kit::graphql::subgraph_routes(schema, TokenVerifier::for_auth_service(&config.auth_url));
    let deletions =
        Consumer::new(DELETIONS_QUEUE, pool.clone(), config.service.bus.clone(), ApplicationDeletionHandler { store })
            .with_settings(&config.service.events);
    Ok(ServiceApp::bind(SERVICE, config.service.addr, routes)
        .await?
        .with_outbox_relay(pool, outbox, &config.service)
        .with_worker("application-deletions", move |token| deletions.run(token)))
}

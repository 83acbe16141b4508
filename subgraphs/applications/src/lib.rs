//! applications subgraph: owns `Application` — the job applications, their
//! status history and the events every other service learns them from.

pub mod model;
pub mod schema;
pub mod store;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::config::ServiceConfig;
use jobtracker_kit::db;
use jobtracker_kit::events::Outbox;
use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceSpec, SubgraphConfig};

use crate::store::Store;

pub use schema::{ApplicationsSchema, schema_builder};

pub const SERVICE: &str = "applications";
pub const DEFAULT_PORT: u16 = 4003;
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/applications");

/// This service in the table of services.
pub const SPEC: ServiceSpec =
    jobtracker_kit::subgraph_spec!(migrations: Some(|| MIGRATIONS), consumes: &[], calls: &["auth"]);

/// auth is all it needs besides its own settings.
pub type Config = SubgraphConfig;

/// The store on a migrated database, for the service and for `jobtracker seed`.
pub async fn store(config: &ServiceConfig, outbox: Outbox) -> anyhow::Result<(Store, db::Pool)> {
    let pool = db::bootstrap(&config.database, MIGRATIONS).await?;
    Ok((Store::new(pool.clone(), outbox), pool))
}

pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let outbox = Outbox::default();
    let (store, pool) = store(&config.service, outbox.clone()).await?;
    let routes = jobtracker_kit::graphql::subgraph_routes(
        schema::schema(store),
        TokenVerifier::for_auth_service(&config.auth_url),
    );
    Ok(ServiceApp::bind(SERVICE, config.service.addr, routes).await?.with_outbox_relay(pool, outbox, &config.service))
}

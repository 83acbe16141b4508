//! analytics subgraph: per-user read models fed by `application.*` and
//! `interview.*` events — it never reads another service's database at run
//! time. `jobtracker analytics rebuild` replays the source outboxes.

pub mod classify;
pub mod events;
pub mod model;
pub mod rebuild;
pub mod schema;
pub mod store;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::db;
use jobtracker_kit::events::Consumer;
use jobtracker_kit::events::topology::QueueSpec;
use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceSpec, SubgraphConfig};

use crate::events::AnalyticsHandler;
use crate::store::Store;

pub use schema::{AnalyticsSchema, schema_builder};

pub const SERVICE: &str = "analytics";
pub const DEFAULT_PORT: u16 = 4005;
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/analytics");
/// Every application and interview change, into the read models.
pub const EVENTS_QUEUE: QueueSpec = QueueSpec { name: "analytics.events", bindings: &["application.*", "interview.*"] };

/// This service in the table of services.
pub const SPEC: ServiceSpec =
    jobtracker_kit::subgraph_spec!(migrations: Some(|| MIGRATIONS), consumes: &[EVENTS_QUEUE], calls: &["auth"]);

/// auth is all it needs besides its own settings.
pub type Config = SubgraphConfig;

pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let pool = db::bootstrap(&config.service.database, MIGRATIONS).await?;
    let schema = schema_builder().data(Store::new(pool.clone())).finish();
    let routes = jobtracker_kit::graphql::subgraph_routes(schema, TokenVerifier::for_auth_service(&config.auth_url));
    let events = Consumer::new(EVENTS_QUEUE, pool.clone(), config.service.bus, AnalyticsHandler)
        .with_settings(&config.service.events);
    Ok(ServiceApp::bind(SERVICE, config.service.addr, routes)
        .await?
        .with_pool_metrics(pool)
        .with_worker("events", move |token| events.run(token)))
}

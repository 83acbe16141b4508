//! contacts subgraph: owns `Contact` — the people a user keeps in touch
//! with — and links each to the registered user whose e-mail it has, from a
//! replica of users' e-mails fed by events (decision 26).

pub mod events;
pub mod model;
pub mod schema;
pub mod store;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::db;
use jobtracker_kit::events::{Consumer, Outbox};
use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceSpec, SubgraphConfig};

use crate::events::{USERS_QUEUE, UserEmailHandler};
use crate::store::Store;

pub use schema::{ContactsSchema, schema_builder};

pub const SERVICE: &str = "contacts";
pub const DEFAULT_PORT: u16 = 4007;
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/contacts");

/// This service in the table of services.
pub const SPEC: ServiceSpec = jobtracker_kit::subgraph_spec!(
    migrations: Some(|| MIGRATIONS),
    consumes: &[USERS_QUEUE],
    calls: &["auth"],
);

/// auth is all it needs besides its own settings.
pub type Config = SubgraphConfig;

pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let pool = db::bootstrap(&config.service.database, MIGRATIONS).await?;
    let outbox = Outbox::default();
    let store = Store::new(pool.clone(), outbox.clone());
    let routes = jobtracker_kit::graphql::subgraph_routes(
        schema::schema(store),
        TokenVerifier::for_auth_service(&config.auth_url),
    );
    let users = Consumer::new(USERS_QUEUE, pool.clone(), config.service.bus.clone(), UserEmailHandler)
        .with_settings(&config.service.events);
    Ok(ServiceApp::bind(SERVICE, config.service.addr, routes)
        .await?
        .with_outbox_relay(pool, outbox, &config.service)
        .with_worker("user-emails", move |token| users.run(token)))
}

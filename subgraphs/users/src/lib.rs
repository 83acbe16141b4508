//! users subgraph: owns `User` (public profiles) and each user's saved
//! profiles. Profiles are born from auth's `user.registered` event.

pub mod events;
pub mod model;
pub mod schema;
pub mod store;

use std::net::SocketAddr;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::config::{Infra, listen_addr};
use jobtracker_kit::db::{self, DatabaseConfig};
use jobtracker_kit::events::amqp::EventBus;
use jobtracker_kit::events::contracts::USER_UPDATED;
use jobtracker_kit::events::topology::USERS_ACCOUNTS;
use jobtracker_kit::events::{Consumer, Fanout, Outbox, OutboxRelay};
use jobtracker_kit::server::ServiceApp;
use tokio_util::sync::CancellationToken;

use crate::events::{AccountsClient, RegistrationHandler};
use crate::store::Store;

pub use schema::{UsersSchema, schema_builder};

pub const SERVICE: &str = "users";
pub const DEFAULT_PORT: u16 = 4002;
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/users");

#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub database: DatabaseConfig,
    pub bus: EventBus,
    /// auth's base URL: JWKS and the internal account lookup.
    pub auth_url: String,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let infra = Infra::from_env();
        Ok(Self {
            addr: listen_addr(SERVICE, DEFAULT_PORT)?,
            database: DatabaseConfig::for_service(&infra.database_base_url, SERVICE)?,
            bus: EventBus::from_env(&infra.amqp_url),
            auth_url: infra.auth_url,
        })
    }
}

pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let pool = db::bootstrap(&config.database, MIGRATIONS).await?;
    let outbox = Outbox::default();
    let store = Store::new(pool.clone(), outbox.clone());
    let background = CancellationToken::new();
    let fanout = Fanout::spawn(config.bus.clone(), &[USER_UPDATED], background.clone());
    let schema = schema_builder().data(store).data(AccountsClient::new(&config.auth_url)).data(fanout).finish();
    let verifier = TokenVerifier::remote(format!("{}/.well-known/jwks.json", config.auth_url));
    let routes = jobtracker_kit::graphql::subgraph_routes(schema, verifier);

    let relay = OutboxRelay::new(pool.clone(), config.bus.clone(), outbox);
    let registrations = Consumer::new(USERS_ACCOUNTS, pool, config.bus, RegistrationHandler);
    Ok(ServiceApp::bind(SERVICE, config.addr, routes)
        .await?
        .with_background(background)
        .with_worker("outbox-relay", move |token| relay.run(token))
        .with_worker("registrations", move |token| registrations.run(token)))
}

//! users subgraph: owns `User` (public profiles) and each user's saved
//! profiles. Profiles are born from auth's `user.registered` event.

pub mod events;
pub mod model;
pub mod schema;
pub mod store;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::config::ServiceConfig;
use jobtracker_kit::db;
use jobtracker_kit::events::contracts::USER_UPDATED;
use jobtracker_kit::events::topology::QueueSpec;
use jobtracker_kit::events::{Consumer, Fanout, Outbox};
use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceEnv, ServiceSpec};
use jobtracker_kit::service_token::ServiceToken;
use tokio_util::sync::CancellationToken;

use crate::events::{AccountsClient, RegistrationHandler};
use crate::store::Store;

pub use schema::{UsersSchema, schema_builder};

pub const SERVICE: &str = "users";
pub const DEFAULT_PORT: u16 = 4002;
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/users");
/// Profiles are completed from registrations.
pub const ACCOUNTS_QUEUE: QueueSpec =
    QueueSpec { name: "users.accounts", bindings: &[jobtracker_kit::events::contracts::USER_REGISTERED] };

/// This service in the table of services.
pub const SPEC: ServiceSpec =
    jobtracker_kit::subgraph_spec!(migrations: Some(|| MIGRATIONS), consumes: &[ACCOUNTS_QUEUE], calls: &["auth"]);

#[derive(Clone, Debug)]
pub struct Config {
    pub service: ServiceConfig,
    /// auth's base URL: JWKS and the internal account lookup.
    pub auth_url: String,
    /// The credential of the internal account lookup (`SERVICE_TOKEN`).
    pub service_token: Option<ServiceToken>,
}

impl Config {
    pub fn load(env: &ServiceEnv) -> anyhow::Result<Self> {
        Ok(Self { service: env.service.clone(), auth_url: env.url("auth")?, service_token: env.service_token.clone() })
    }
}

pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let pool = db::bootstrap(&config.service.database, MIGRATIONS).await?;
    let outbox = Outbox::default();
    let store = Store::new(pool.clone(), outbox.clone());
    let accounts = AccountsClient::new(&config.auth_url, config.service_token)?;
    let background = CancellationToken::new();
    let fanout = Fanout::spawn(config.service.bus.clone(), &[USER_UPDATED], background.clone());
    let schema = schema_builder().data(store).data(accounts).data(fanout).finish();
    let verifier = TokenVerifier::for_auth_service(&config.auth_url);
    let routes = jobtracker_kit::graphql::subgraph_routes(schema, verifier);

    let registrations = Consumer::new(ACCOUNTS_QUEUE, pool.clone(), config.service.bus.clone(), RegistrationHandler)
        .with_settings(&config.service.events);
    Ok(ServiceApp::bind(SERVICE, config.service.addr, routes)
        .await?
        .with_background(background)
        .with_outbox_relay(pool, outbox, &config.service)
        .with_worker("registrations", move |token| registrations.run(token)))
}

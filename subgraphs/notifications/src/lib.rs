//! notifications subgraph: owns `Notification` and each user's preferences;
//! plans interview reminders from `interview.*` and status notices from
//! `application.status_changed`, and delivers them when due (decision 28).
//! This session: the in-app channel; e-mail and SMS come next.

pub mod events;
pub mod model;
pub mod schema;
pub mod store;
pub mod worker;

use std::time::Duration;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::config::ServiceConfig;
use jobtracker_kit::db;
use jobtracker_kit::events::Consumer;
use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceEnv, ServiceSpec};

use crate::events::{EVENTS_QUEUE, NotificationsHandler};
use crate::model::Clock;
use crate::store::Store;
use crate::worker::Sender;

pub use schema::{NotificationsSchema, schema_builder};

pub const SERVICE: &str = "notifications";
pub const DEFAULT_PORT: u16 = 4009;
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/notifications");

pub const SPEC: ServiceSpec = jobtracker_kit::subgraph_spec!(
    migrations: Some(|| MIGRATIONS),
    consumes: &[EVENTS_QUEUE],
    calls: &["auth"],
);

#[derive(Clone, Debug)]
pub struct Config {
    pub service: ServiceConfig,
    pub auth_url: String,
    pub clock: Clock,
    /// `NOTIFICATIONS_POLL_MILLIS`: how often the sender looks for due deliveries.
    pub poll: Duration,
    /// `NOTIFICATIONS_RETENTION_DAYS`: done deliveries and read notifications
    /// are pruned after this.
    pub retention: chrono::Duration,
}

impl Config {
    pub fn load(env: &ServiceEnv) -> anyhow::Result<Self> {
        let vars = &env.vars;
        let poll: u64 = vars.parse("NOTIFICATIONS_POLL_MILLIS", 1000)?;
        anyhow::ensure!(poll > 0, "NOTIFICATIONS_POLL_MILLIS must be positive");
        let days: i64 = vars.parse("NOTIFICATIONS_RETENTION_DAYS", 30)?;
        anyhow::ensure!((1..=3650).contains(&days), "NOTIFICATIONS_RETENTION_DAYS must be 1 to 3650");
        let skew: i64 = vars.parse("NOTIFICATIONS_CLOCK_SKEW_SECS", 0)?;
        anyhow::ensure!(skew.abs() <= 366 * 86_400, "NOTIFICATIONS_CLOCK_SKEW_SECS must be within a year");
        Ok(Self {
            service: env.service.clone(),
            auth_url: env.url("auth")?,
            clock: Clock { skew: chrono::Duration::seconds(skew) },
            poll: Duration::from_millis(poll),
            retention: chrono::Duration::days(days),
        })
    }
}

pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let pool = db::bootstrap(&config.service.database, MIGRATIONS).await?;
    let store = Store::new(pool.clone());
    let routes = jobtracker_kit::graphql::subgraph_routes(
        schema::schema(store.clone(), config.clock),
        TokenVerifier::for_auth_service(&config.auth_url),
    );
    let handler = NotificationsHandler { clock: config.clock };
    let events =
        Consumer::new(EVENTS_QUEUE, pool, config.service.bus.clone(), handler).with_settings(&config.service.events);
    let sender = Sender { store, clock: config.clock, poll: config.poll, retention: config.retention };
    Ok(ServiceApp::bind(SERVICE, config.service.addr, routes)
        .await?
        .with_worker("events", move |token| events.run(token))
        .with_worker("sender", move |token| sender.run(token)))
}

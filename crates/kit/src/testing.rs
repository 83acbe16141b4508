//! A test's private infrastructure: fresh database names, an event bus
//! prefix of its own and a service credential, so tests run in parallel on
//! one PostgreSQL and one RabbitMQ. Used by kit's own tests and by the test
//! kit (crates/testkit), which is why it lives here: kit needs no test crate.

use std::sync::Once;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{Infra, ServiceConfig};
use crate::db::DatabaseConfig;
use crate::env::Vars;
use crate::events::EventsConfig;
use crate::events::amqp::EventBus;
use crate::service::{ServiceEnv, ServiceSpec};
use crate::service_token::ServiceToken;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// Test databases are named `jt_<service>_<unix-ms>_<random>`; those older
/// than this are dropped by the next test run.
const STALE_AFTER_MS: u128 = 2 * 60 * 60 * 1000;

#[derive(Clone, Debug)]
pub struct TestEnv {
    pub infra: Infra,
    pub bus: EventBus,
    /// The test's service-to-service credential, shared by its services.
    pub service_token: ServiceToken,
    id: String,
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis()
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> Self {
        crate::telemetry::init();
        let infra = Infra::from_env();
        let id = format!("{}_{}", now_ms(), &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let bus = EventBus { url: infra.amqp_url.clone(), prefix: format!("jt-test-{id}"), ephemeral: true };
        static SWEEP: Once = Once::new();
        SWEEP.call_once(|| {
            let base = infra.database_base_url.clone();
            std::thread::spawn(move || sweep_stale_databases(&base));
        });
        Self { infra, bus, service_token: ServiceToken::generate(), id }
    }

    /// A service of this test: port 0, its fresh database, the test's bus.
    pub fn service_config(&self, service: &str) -> ServiceConfig {
        ServiceConfig {
            addr: "127.0.0.1:0".parse().expect("static address"),
            database: self.database(service),
            bus: self.bus.clone(),
            // Tests recover from injected outages within a second.
            events: EventsConfig { consumer_max_backoff: Duration::from_secs(1), ..EventsConfig::default() },
            upstream_timeout: Duration::from_secs(10),
        }
    }

    /// A service of the table in this test: its fresh database, port 0, the
    /// test's bus and credential, and no variables from the environment the
    /// test runs in (`with_url` adds the services it calls).
    pub fn service_env(&self, spec: &ServiceSpec) -> ServiceEnv {
        ServiceEnv::new(self.service_config(spec.name), Vars::Map(Default::default()), Some(self.service_token.clone()))
    }

    /// A fresh database for one service of this test (created on bootstrap).
    pub fn database(&self, service: &str) -> DatabaseConfig {
        DatabaseConfig {
            base_url: self.infra.database_base_url.clone(),
            name: format!("jt_{service}_{}", self.id),
            pool_size: 8,
            pool_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

/// Drops test databases left by earlier runs (best effort).
fn sweep_stale_databases(base_url: &str) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    runtime.block_on(async {
        let Ok(mut conn) = AsyncPgConnection::establish(&format!("{base_url}/postgres")).await else { return };
        let Ok(names) = diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'jt\\_%'")
            .load::<Name>(&mut conn)
            .await
        else {
            return;
        };
        let now = now_ms();
        for name in names {
            let created = name.datname.split('_').nth(2).and_then(|ms| ms.parse::<u128>().ok());
            if created.is_some_and(|ms| now.saturating_sub(ms) > STALE_AFTER_MS) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name.datname))
                    .execute(&mut conn)
                    .await;
            }
        }
    });
}

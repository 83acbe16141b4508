//! A test's private infrastructure: fresh database names, an event bus
//! prefix of its own and a service credential, so tests run in parallel on
//! one PostgreSQL and one RabbitMQ. Used by kit's own tests and by the test
//! kit (crates/testkit), which is why it lives here: kit needs no test crate.

use std::sync::{Arc, Once};
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
/// than this (a test that died before cleaning up) are dropped by the next
/// test run. No test runs that long.
const STALE_AFTER_MS: u128 = 30 * 60 * 1000;

#[derive(Clone, Debug)]
pub struct TestEnv {
    pub infra: Infra,
    pub bus: EventBus,
    /// The test's service-to-service credential, shared by its services.
    pub service_token: ServiceToken,
    id: String,
    /// Drops the test's databases when the last clone of the environment
    /// goes (a full run creates about 1 400 of them: left behind, they filled
    /// the disk).
    cleanup: Arc<DropDatabases>,
}

#[derive(Debug)]
struct DropDatabases {
    base_url: String,
    id: String,
    data_dir: std::path::PathBuf,
}

impl Drop for DropDatabases {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        // Drop may run inside the test's runtime, which cannot block on
        // another: a thread with its own runtime does the work, joined so
        // the process does not exit first.
        let (base_url, id) = (self.base_url.clone(), self.id.clone());
        let _ = std::thread::spawn(move || drop_databases(&base_url, |name| name.ends_with(&format!("_{id}")))).join();
    }
}

fn now_ms() -> u128 {
    // checked: test-only helper; the clock is past 1970.
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
        let data_dir = std::env::temp_dir().join(format!("jt-data-{id}"));
        let cleanup = Arc::new(DropDatabases { base_url: infra.database_base_url.clone(), id: id.clone(), data_dir });
        Self { infra, bus, service_token: ServiceToken::generate(), id, cleanup }
    }

    /// A service of this test: port 0, its fresh database, the test's bus.
    pub fn service_config(&self, service: &str) -> ServiceConfig {
        ServiceConfig {
            // checked: a literal address.
            addr: "127.0.0.1:0".parse().expect("static address"),
            database: self.database(service),
            bus: self.bus.clone(),
            // Tests recover from injected outages within a second.
            events: EventsConfig { consumer_max_backoff: Duration::from_secs(1), ..EventsConfig::default() },
            upstream_timeout: Duration::from_secs(10),
        }
    }

    /// A service of the table in this test: its fresh database, port 0, the
    /// test's bus and credential, a `DATA_DIR` of the test's own (removed
    /// with it), and no variables from the environment the test runs in
    /// (`with_url` adds the services it calls).
    pub fn service_env(&self, spec: &ServiceSpec) -> ServiceEnv {
        let data_dir = self.cleanup.data_dir.to_string_lossy().into_owned();
        let vars = Vars::Map([("DATA_DIR".to_string(), data_dir)].into());
        ServiceEnv::new(self.service_config(spec.name), vars, Some(self.service_token.clone()))
    }

    /// A fresh database for one service of this test (created on bootstrap).
    pub fn database(&self, service: &str) -> DatabaseConfig {
        DatabaseConfig {
            base_url: self.infra.database_base_url.clone(),
            name: format!("jt_{service}_{}", self.id),
            pool_size: 8,
            pool_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

/// Drops test databases left by earlier runs that died before cleaning up
/// (best effort).
fn sweep_stale_databases(base_url: &str) {
    let now = now_ms();
    drop_databases(base_url, |name| {
        let created = name.split('_').nth(2).and_then(|ms| ms.parse::<u128>().ok());
        created.is_some_and(|ms| now.saturating_sub(ms) > STALE_AFTER_MS)
    });
}

/// Drops the test databases (`jt_…`) whose names `doomed` selects (best effort).
fn drop_databases(base_url: &str, doomed: impl Fn(&str) -> bool) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    runtime.block_on(async {
        // While many tests run, PostgreSQL may be out of connection slots
        // for a moment: try a few times.
        let mut conn = None;
        for _ in 0..10 {
            match AsyncPgConnection::establish(&format!("{base_url}/postgres")).await {
                Ok(established) => {
                    conn = Some(established);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
        let Some(mut conn) = conn else { return };
        let Ok(names) = diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'jt\\_%'")
            .load::<Name>(&mut conn)
            .await
        else {
            return;
        };
        for name in names.into_iter().filter(|n| doomed(&n.datname)) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name.datname))
                .execute(&mut conn)
                .await;
        }
    });
}

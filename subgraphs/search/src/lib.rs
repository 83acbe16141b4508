//! search subgraph: one ranked query over the viewer's applications and
//! contacts and every user's public profile, from an index fed by events
//! only (it never reads another service's database at run time). PostgreSQL
//! full-text by default, Elasticsearch/OpenSearch when `ELASTICSEARCH_URL` is
//! set (decision 29). `jobtracker search reindex` rebuilds it from the
//! publishers' outboxes.

pub mod elastic;
pub mod events;
pub mod index;
pub mod model;
pub mod reindex;
pub mod schema;
pub mod store;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use diesel::sql_types::{Text, Timestamptz};
use diesel_async::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::config::ServiceConfig;
use jobtracker_kit::db::{self, Pool};
use jobtracker_kit::events::Consumer;
use jobtracker_kit::events::topology::QueueSpec;
use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceEnv, ServiceSpec};
use tokio_util::sync::CancellationToken;

use crate::elastic::{ElasticConfig, ElasticIndex};
use crate::events::{EVENTS_QUEUE, IndexHandler};
use crate::index::SearchIndex;
use crate::store::PgIndex;
use crate::upstream::{Upstream, Urls};

pub use schema::{SearchSchema, schema_builder};

pub const SERVICE: &str = "search";
pub const DEFAULT_PORT: u16 = 4010;
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/search");
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// This service in the table of services.
pub const SPEC: ServiceSpec = jobtracker_kit::subgraph_spec!(
    migrations: Some(|| MIGRATIONS),
    consumes: &[EVENTS_QUEUE],
    calls: &["auth", "users", "applications", "contacts"],
);

#[derive(Clone, Debug)]
pub enum Backend {
    Postgres,
    Elastic(ElasticConfig),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub service: ServiceConfig,
    pub auth_url: String,
    pub users_url: String,
    pub applications_url: String,
    pub contacts_url: String,
    pub backend: Backend,
    /// `SEARCH_RETENTION_DAYS`: how long deletions (PostgreSQL tombstones)
    /// and processed event ids are kept. A late event older than that finds
    /// nothing to compare with; the entity no longer resolves, so it is
    /// still never shown.
    pub retention: chrono::Duration,
    /// `SEARCH_QUEUE`: the queue it consumes (`search.documents`). A second
    /// deployment filling another backend (a new cluster, a benchmark) names
    /// its own, so that it gets its own copy of every event instead of
    /// competing for the first one's.
    pub queue: QueueSpec,
}

impl Config {
    pub fn load(env: &ServiceEnv) -> anyhow::Result<Self> {
        let vars = &env.vars;
        let days: i64 = vars.parse("SEARCH_RETENTION_DAYS", 7)?;
        anyhow::ensure!((1..=3650).contains(&days), "SEARCH_RETENTION_DAYS must be 1 to 3650");
        let backend = match vars.get("ELASTICSEARCH_URL").filter(|url| !url.trim().is_empty()) {
            None => Backend::Postgres,
            Some(url) => Backend::Elastic(ElasticConfig {
                url,
                index: vars.or("ELASTICSEARCH_INDEX", "jobtracker-search"),
                timeout: Duration::from_secs(vars.parse("ELASTICSEARCH_TIMEOUT_SECS", 10)?),
            }),
        };
        Ok(Self {
            service: env.service.clone(),
            auth_url: env.url("auth")?,
            users_url: env.url("users")?,
            applications_url: env.url("applications")?,
            contacts_url: env.url("contacts")?,
            backend,
            retention: chrono::Duration::days(days),
            queue: match vars.get("SEARCH_QUEUE") {
                // Leaked once per process: queue specs are static, like the table's.
                Some(name) if name != EVENTS_QUEUE.name => {
                    anyhow::ensure!(
                        !name.is_empty()
                            && name.len() <= 200
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                        "SEARCH_QUEUE must be 1 to 200 of A-Z a-z 0-9 . _ -"
                    );
                    QueueSpec { name: Box::leak(name.into_boxed_str()), bindings: EVENTS_QUEUE.bindings }
                }
                _ => EVENTS_QUEUE,
            },
        })
    }
}

/// The configured backend; `pool` is search's own database (the
/// PostgreSQL index lives there, and with either backend the consumer's
/// processed events do).
pub fn open_index(backend: &Backend, pool: Pool) -> anyhow::Result<Arc<dyn SearchIndex>> {
    Ok(match backend {
        Backend::Postgres => Arc::new(PgIndex::new(pool)),
        Backend::Elastic(config) => Arc::new(ElasticIndex::new(config)?),
    })
}

/// Forgets old deletions and processed event ids, hourly.
async fn prune_periodically(
    index: Arc<dyn SearchIndex>,
    pool: Pool,
    queue: &'static str,
    retention: chrono::Duration,
    stop: CancellationToken,
) {
    loop {
        let before = db::now() - retention;
        let processed = async {
            let mut conn = pool.get().await?;
            diesel::sql_query("DELETE FROM processed_events WHERE consumer = $1 AND processed_at < $2")
                .bind::<Text, _>(queue)
                .bind::<Timestamptz, _>(before)
                .execute(&mut conn)
                .await
                .map_err(anyhow::Error::from)
        };
        match tokio::try_join!(index.prune(before), processed) {
            Ok((tombstones, processed)) => tracing::debug!(tombstones, processed, "pruned"),
            Err(err) => tracing::warn!(error = format!("{err:#}"), "pruning failed, next time"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let pool = db::bootstrap(&config.service.database, MIGRATIONS).await?;
    let index = open_index(&config.backend, pool.clone())?;
    index.prepare().await?;
    tracing::info!(backend = index.backend(), "search index ready");
    let upstream = Upstream::new(
        Urls { users: &config.users_url, applications: &config.applications_url, contacts: &config.contacts_url },
        config.service.upstream_timeout,
    );
    let routes = jobtracker_kit::graphql::subgraph_routes(
        schema::schema(index.clone(), upstream),
        TokenVerifier::for_auth_service(&config.auth_url),
    );
    let queue = config.queue.name;
    let documents =
        Consumer::new(config.queue, pool.clone(), config.service.bus.clone(), IndexHandler { index: index.clone() })
            .with_settings(&config.service.events);
    let retention = config.retention;
    Ok(ServiceApp::bind(SERVICE, config.service.addr, routes)
        .await?
        .with_pool_metrics(pool.clone())
        .with_worker("documents", move |token| documents.run(token))
        .with_worker("prune", move |token| async move {
            prune_periodically(index, pool, queue, retention, token).await;
            Ok(())
        }))
}

#[cfg(test)]
mod tests {
    use jobtracker_kit::testing::TestEnv;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> anyhow::Result<Config> {
        let test = TestEnv::new();
        let mut env = test.service_env(&SPEC);
        for (key, value) in vars {
            env.vars = env.vars.with(key, value);
        }
        for service in SPEC.calls {
            env = env.with_url(service, "http://127.0.0.1:9");
        }
        Config::load(&env)
    }

    #[test]
    fn the_backend_and_the_queue_come_from_the_environment() {
        let default = load(&[]).unwrap();
        assert!(matches!(default.backend, Backend::Postgres));
        assert_eq!(default.queue.name, EVENTS_QUEUE.name);
        let other =
            load(&[("ELASTICSEARCH_URL", "http://es:9200"), ("SEARCH_QUEUE", "search.documents.blue")]).unwrap();
        assert!(
            matches!(other.backend, Backend::Elastic(ref es) if es.url == "http://es:9200" && es.index == "jobtracker-search")
        );
        assert_eq!((other.queue.name, other.queue.bindings), ("search.documents.blue", EVENTS_QUEUE.bindings));
        assert!(load(&[("SEARCH_QUEUE", "no spaces")]).is_err());
        assert!(load(&[("SEARCH_RETENTION_DAYS", "0")]).is_err());
    }
}

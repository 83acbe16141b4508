//! PostgreSQL access: one database per service (`jobtracker_<service>`),
//! created when missing, migrated at start under an advisory lock (so
//! replicas starting together never race), and served through a deadpool of
//! diesel-async connections.

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool as DeadPool};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub type Pool = DeadPool<AsyncPgConnection>;
pub type PooledConn = Object<AsyncPgConnection>;

/// The current time at PostgreSQL's precision (microseconds), so that a value
/// published in an event equals the one stored.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// Tables every service that publishes or consumes events needs: the outbox
/// and the processed-events (idempotency) table. Applied before the service's own.
pub const EVENT_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/events");

/// The database a service owns and how to reach it.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    pub base_url: String,
    pub name: String,
    pub pool_size: usize,
    /// `DATABASE_POOL_TIMEOUT_SECS`: the longest a caller waits for a
    /// connection (and a new connection may take to open), so an exhausted
    /// pool or an unreachable server fails a request instead of hanging it.
    pub pool_timeout: std::time::Duration,
    /// `DATABASE_STATEMENT_TIMEOUT_SECS`: the longest one statement of the
    /// service's pool may run, so a costly query (a search over one user's
    /// 100 000 rows, multiplied by aliases) gives its connection back
    /// instead of holding it. Migrations are not bound by it.
    pub statement_timeout: std::time::Duration,
}

impl DatabaseConfig {
    pub fn for_service(base_url: &str, service: &str) -> anyhow::Result<Self> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            name: crate::env::env_or(
                &format!("{}_DATABASE", service.to_ascii_uppercase()),
                &format!("jobtracker_{service}"),
            ),
            pool_size: crate::env::env_parse("DATABASE_POOL_SIZE", 16)?,
            pool_timeout: std::time::Duration::from_secs(crate::env::env_parse("DATABASE_POOL_TIMEOUT_SECS", 5)?),
            statement_timeout: std::time::Duration::from_secs(crate::env::env_parse(
                "DATABASE_STATEMENT_TIMEOUT_SECS",
                30,
            )?),
        })
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.base_url, self.name)
    }

    /// The URL the pool connects with: the database, with its statement timeout.
    pub fn pool_url(&self) -> String {
        format!("{}?options=-c%20statement_timeout%3D{}", self.url(), self.statement_timeout.as_millis())
    }
}

/// Creates the database if missing, runs the event tables' and the service's
/// migrations, and returns a pool.
pub async fn bootstrap(config: &DatabaseConfig, migrations: EmbeddedMigrations) -> anyhow::Result<Pool> {
    create_database_if_missing(&config.base_url, &config.name).await?;
    run_migrations(config.url(), migrations).await?;
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(config.pool_url());
    Pool::builder(manager)
        .max_size(config.pool_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(config.pool_timeout))
        .create_timeout(Some(config.pool_timeout))
        .recycle_timeout(Some(config.pool_timeout))
        .build()
        .context("building the database pool")
}

pub async fn create_database_if_missing(base_url: &str, name: &str) -> anyhow::Result<()> {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        anyhow::bail!("database name {name:?} must be [A-Za-z0-9_]");
    }
    let mut admin = AsyncPgConnection::establish(&format!("{base_url}/postgres"))
        .await
        .with_context(|| format!("connecting to PostgreSQL at {base_url}"))?;
    let exists: i64 = diesel::sql_query("SELECT count(*) AS count FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Count>(&mut admin)
        .await?
        .count;
    if exists == 0 {
        match diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin).await {
            Ok(_) => tracing::info!(database = name, "created database"),
            // Another replica created it between our check and our CREATE.
            Err(diesel::result::Error::DatabaseError(_, info)) if info.message().contains("already exists") => {}
            Err(err) => return Err(err).with_context(|| format!("creating database {name}")),
        }
    }
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

/// Runs migrations on a blocking thread (diesel's harness is synchronous)
/// while holding a session advisory lock, so concurrent starters serialise.
pub async fn run_migrations(url: String, migrations: EmbeddedMigrations) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)
            .with_context(|| format!("connecting to {url}"))?;
        conn.batch_execute("SELECT pg_advisory_lock(7242011)")?;
        let mut run = |source: EmbeddedMigrations| {
            conn.run_pending_migrations(source).map(drop).map_err(|err| anyhow::anyhow!("running migrations: {err}"))
        };
        let result = run(EVENT_MIGRATIONS).and_then(|()| run(migrations));
        conn.batch_execute("SELECT pg_advisory_unlock(7242011)")?;
        result
    })
    .await
    .context("migration task panicked")?
}

//! The pool's statement timeout: a statement running past it is cancelled by
//! PostgreSQL and its connection given back, while migrations (on their own
//! connection) are not bound by it.

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::db;
use jobtracker_kit::testing::TestEnv;

// A small table set of the event tests; any migrations would do.
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("tests/events/migrations");

#[tokio::test]
async fn a_statement_past_the_timeout_is_cancelled_and_its_connection_reused() {
    let env = TestEnv::new();
    let mut config = env.database("statements");
    config.statement_timeout = Duration::from_millis(500);
    config.pool_size = 1;
    let pool = db::bootstrap(&config, MIGRATIONS).await.expect("pool");

    let started = Instant::now();
    let mut conn = pool.get().await.expect("a connection");
    let slow = diesel::sql_query("SELECT pg_sleep(5)").execute(&mut conn).await;
    let err = slow.expect_err("cancelled").to_string();
    assert!(err.contains("statement timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    drop(conn);

    // The one connection of the pool serves the next statement.
    let mut conn = pool.get().await.expect("the connection back");
    diesel::sql_query("SELECT 1").execute(&mut conn).await.expect("a quick statement runs");
}

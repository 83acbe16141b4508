//! search's API tests: the service on port 0 with the services whose events
//! feed it (auth, users, applications, contacts), a fresh database and its
//! own RabbitMQ namespace per test. The behavioural suite runs once per
//! backend: PostgreSQL, and osmem-server (an OpenSearch-compatible emulator)
//! for the Elasticsearch one.

/// `postgres::name` and `elastic::name` for each shared test function.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(crate::helpers::Engine::Postgres).await })*
        }
        mod elastic {
            $(#[tokio::test] async fn $name() { super::$name(crate::helpers::Engine::Elastic).await })*
        }
    };
}

mod behaviour;
mod consumer;
mod helpers;

//! Test helpers. Every test gets its own databases (fresh, migrated) and its
//! own RabbitMQ namespace, so tests run in parallel against the machine's
//! real PostgreSQL and RabbitMQ without seeing each other.

pub mod events;
pub mod gql;
pub mod osmem;
pub mod router;
pub mod s3;
pub mod services;
pub mod ws;

pub use events::EventTap;
pub use gql::{Account, Gql, GqlResponse};
pub use jobtracker_kit::testing::TestEnv;
pub use osmem::OsmemServer;
pub use router::{RouterOptions, RouterProcess, free_port};
pub use s3::S3Server;
pub use services::{Running, Stack, spawn};
pub use ws::WsClient;

//! Shared plumbing for every Jobtracker service: configuration, telemetry,
//! database bootstrap, identity, errors, pagination, the event backbone, the
//! HTTP surface of a subgraph and the credential of internal calls. A
//! subgraph crate should only contain its domain; everything two subgraphs
//! would otherwise copy lives here.

pub mod auth;
pub mod config;
pub mod db;
pub mod env;
pub mod error;
pub mod events;
pub mod graphql;
pub mod metrics;
pub mod pagination;
pub mod rate_limit;
pub mod references;
pub mod server;
pub mod service;
pub mod service_token;
pub mod social;
pub mod stored;
pub mod subscription;
pub mod sync;
pub mod telemetry;
pub mod testing;
pub mod trace;
pub mod validate;

pub use auth::Viewer;
pub use error::{AppError, AppResult, ErrorCode};

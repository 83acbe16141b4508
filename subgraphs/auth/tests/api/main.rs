//! auth's integration tests: the subgraph on port 0 with a fresh database
//! and its own RabbitMQ namespace, driven over HTTP.

mod abuse;
mod helpers;
mod login;
mod oauth;
mod register;
mod tokens;

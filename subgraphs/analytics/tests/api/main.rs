//! analytics' integration tests: the subgraphs it listens to, with their
//! real outboxes, relays and RabbitMQ, and analytics consuming them.

mod bounded;
mod helpers;
mod numbers;
mod replay;

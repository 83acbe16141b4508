//! End-to-end tests: every subgraph on port 0 with fresh databases, and the
//! real router binary in front of them. Everything goes through the router,
//! as a frontend would.

mod abuse;
mod access;
mod applications;
mod browser;
mod chaos;
mod cluster;
mod contacts;
mod dashboard;
mod errors;
mod files;
mod gate;
mod helpers;
mod journey;
mod live;
mod load;
mod notifications;
mod observability;
mod production;
mod router;
mod search;
mod seed;
mod subscriptions;
mod supervisor;
mod tokens;
mod traces;

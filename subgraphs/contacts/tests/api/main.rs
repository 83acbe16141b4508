//! contacts' API tests: the service on port 0 with auth, a fresh database
//! and its own RabbitMQ namespace per test.

mod events;
mod helpers;
mod links;
mod lists;
mod privacy;
mod writes;

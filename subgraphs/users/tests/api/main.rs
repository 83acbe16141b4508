//! users' integration tests: auth and users on port 0 with fresh databases,
//! users driven directly (the router is covered by the end-to-end tests).

mod helpers;
mod profile;
mod registration;
mod saved;
mod search;
mod subscription;

//! applications' integration tests: auth and applications on port 0 with
//! fresh databases; applications driven directly over HTTP.

mod events;
mod helpers;
mod lists;
mod privacy;
mod writes;

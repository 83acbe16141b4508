//! interviews' integration tests: auth, applications and interviews on
//! port 0; interviews driven directly over HTTP.

mod helpers;
mod lists;
mod schedule;

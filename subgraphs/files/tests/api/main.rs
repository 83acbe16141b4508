//! files' API tests: the service on port 0 with auth and a fresh database
//! per test, on the local backend (a temporary directory) or on a real
//! S3-compatible server (s3s-fs, which checks signatures).

mod helpers;
mod privacy;
mod refusals;
mod s3;
mod sweeper;
mod uploads;
mod urls;

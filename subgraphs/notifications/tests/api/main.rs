//! notifications' API tests: the service on port 0 with auth, a fresh
//! database and its own RabbitMQ namespace per test; interview and
//! application events published as those services would. The service's clock
//! runs 90 s ahead (`NOTIFICATIONS_CLOCK_SKEW_SECS`), so a reminder due in a
//! minute is due now.

mod email;
mod helpers;
mod planning;
mod privacy;
mod senders;
mod sms;

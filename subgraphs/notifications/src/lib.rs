//! notifications subgraph: owns `Notification` and each user's preferences;
//! plans interview reminders from `interview.*` and status notices from
//! `application.status_changed`, and delivers them when due (decision 28).
//! Channels: in the app, e-mail (SMTP) and SMS (Twilio's API, or the log).

pub mod events;
pub mod mail;
pub mod model;
pub mod schema;
pub mod sms;
pub mod store;
pub mod worker;

use std::time::Duration;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobtracker_kit::auth::TokenVerifier;
use jobtracker_kit::config::ServiceConfig;
use jobtracker_kit::db;
use jobtracker_kit::events::{Consumer, Fanout, Outbox};
use jobtracker_kit::server::ServiceApp;
use jobtracker_kit::service::{ServiceEnv, ServiceSpec};
use tokio_util::sync::CancellationToken;

use crate::events::{EVENTS_QUEUE, NotificationsHandler};
use crate::mail::Mailer;
use crate::model::Clock;
use crate::sms::{LogSms, TwilioSms};
use crate::store::{NOTIFICATION_CREATED, Store};
use crate::worker::{MailSettings, Sender};

pub use schema::{NotificationsSchema, schema_builder};

pub const SERVICE: &str = "notifications";
pub const DEFAULT_PORT: u16 = 4009;
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/notifications");

pub const SPEC: ServiceSpec = jobtracker_kit::subgraph_spec!(
    migrations: Some(|| MIGRATIONS),
    consumes: &[EVENTS_QUEUE],
    calls: &["auth"],
);

#[derive(Clone, Debug)]
pub struct Config {
    pub service: ServiceConfig,
    pub auth_url: String,
    pub clock: Clock,
    /// `NOTIFICATIONS_POLL_MILLIS`: how often the sender looks for due deliveries.
    pub poll: Duration,
    /// `NOTIFICATIONS_RETENTION_DAYS`: done deliveries and read notifications
    /// are pruned after this.
    pub retention: chrono::Duration,
    /// `SMTP_URL`, `SMTP_FROM`, `SMTP_TIMEOUT_SECS`.
    pub smtp: Smtp,
    /// `SMS_PROVIDER` (`log`, the default, or `twilio`) and, for Twilio,
    /// `TWILIO_BASE_URL`, `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, `TWILIO_FROM`.
    pub sms: Sms,
    /// `NOTIFICATIONS_SEND_LEASE_SECS`, `NOTIFICATIONS_MAX_ATTEMPTS`,
    /// `NOTIFICATIONS_FIRST_RETRY_SECS`.
    pub lease: chrono::Duration,
    pub max_attempts: i32,
    pub first_retry: chrono::Duration,
    /// `NOTIFICATIONS_FAULT_ABORT_AFTER_HANDOVER` (tests only).
    pub abort_after_hand_over: bool,
}

#[derive(Clone, Debug)]
pub enum Sms {
    Log,
    Twilio { base_url: String, account_sid: String, auth_token: String, from: String },
}

#[derive(Clone, Debug)]
pub struct Smtp {
    pub url: String,
    pub from: String,
    pub timeout: Duration,
}

impl Config {
    pub fn load(env: &ServiceEnv) -> anyhow::Result<Self> {
        let vars = &env.vars;
        let poll: u64 = vars.parse("NOTIFICATIONS_POLL_MILLIS", 1000)?;
        anyhow::ensure!(poll > 0, "NOTIFICATIONS_POLL_MILLIS must be positive");
        let days: i64 = vars.parse("NOTIFICATIONS_RETENTION_DAYS", 30)?;
        anyhow::ensure!((1..=3650).contains(&days), "NOTIFICATIONS_RETENTION_DAYS must be 1 to 3650");
        let skew: i64 = vars.parse("NOTIFICATIONS_CLOCK_SKEW_SECS", 0)?;
        anyhow::ensure!(skew.abs() <= 366 * 86_400, "NOTIFICATIONS_CLOCK_SKEW_SECS must be within a year");
        Ok(Self {
            service: env.service.clone(),
            auth_url: env.url("auth")?,
            clock: Clock { skew: chrono::Duration::seconds(skew) },
            poll: Duration::from_millis(poll),
            retention: chrono::Duration::days(days),
            smtp: Smtp {
                url: vars.or("SMTP_URL", "smtp://127.0.0.1:1025"),
                from: vars.or("SMTP_FROM", "Jobtracker <reminders@jobtracker.local>"),
                timeout: Duration::from_secs(vars.parse("SMTP_TIMEOUT_SECS", 10)?),
            },
            sms: match vars.or("SMS_PROVIDER", "log").as_str() {
                "log" => Sms::Log,
                "twilio" => {
                    let required =
                        |key: &str| vars.get(key).ok_or_else(|| anyhow::anyhow!("SMS_PROVIDER=twilio needs {key}"));
                    Sms::Twilio {
                        base_url: vars.or("TWILIO_BASE_URL", "https://api.twilio.com"),
                        account_sid: required("TWILIO_ACCOUNT_SID")?,
                        auth_token: required("TWILIO_AUTH_TOKEN")?,
                        from: required("TWILIO_FROM")?,
                    }
                }
                other => anyhow::bail!("SMS_PROVIDER={other:?}: expected log or twilio"),
            },
            lease: chrono::Duration::seconds(vars.parse("NOTIFICATIONS_SEND_LEASE_SECS", 60)?.max(1)),
            max_attempts: vars.parse("NOTIFICATIONS_MAX_ATTEMPTS", 5)?.max(1),
            first_retry: chrono::Duration::seconds(vars.parse("NOTIFICATIONS_FIRST_RETRY_SECS", 30)?.max(1)),
            abort_after_hand_over: vars.parse("NOTIFICATIONS_FAULT_ABORT_AFTER_HANDOVER", false)?,
        })
    }
}

pub async fn build(config: Config) -> anyhow::Result<ServiceApp> {
    let pool = db::bootstrap(&config.service.database, MIGRATIONS).await?;
    let outbox = Outbox::default();
    let store = Store::new(pool.clone(), outbox.clone());
    let background = CancellationToken::new();
    let fanout = Fanout::spawn(config.service.bus.clone(), &[NOTIFICATION_CREATED], background.clone());
    let routes = jobtracker_kit::graphql::subgraph_routes(
        schema::schema(store.clone(), config.clock, fanout),
        TokenVerifier::for_auth_service(&config.auth_url),
    );
    let scheduled = std::sync::Arc::new(tokio::sync::Notify::new());
    let handler = NotificationsHandler { clock: config.clock, scheduled: scheduled.clone() };
    let events = Consumer::new(EVENTS_QUEUE, pool.clone(), config.service.bus.clone(), handler)
        .with_settings(&config.service.events);
    let mail = MailSettings {
        mailer: std::sync::Arc::new(Mailer::new(&config.smtp.url, &config.smtp.from, config.smtp.timeout)?),
        sms: match &config.sms {
            Sms::Log => std::sync::Arc::new(LogSms),
            Sms::Twilio { base_url, account_sid, auth_token, from } => {
                std::sync::Arc::new(TwilioSms::new(base_url, account_sid, auth_token, from, config.smtp.timeout)?)
            }
        },
        lease: config.lease,
        max_attempts: config.max_attempts,
        first_retry: config.first_retry,
    };
    let sender = Sender {
        store,
        clock: config.clock,
        poll: config.poll,
        scheduled,
        retention: config.retention,
        mail,
        abort_after_hand_over: config.abort_after_hand_over,
    };
    Ok(ServiceApp::bind(SERVICE, config.service.addr, routes)
        .await?
        .with_background(background)
        .with_outbox_relay(pool, outbox, &config.service)
        .with_worker("events", move |token| events.run(token))
        .with_worker("sender", move |token| sender.run(token)))
}

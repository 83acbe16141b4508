//! Commands and targets of the `jobtracker` binary.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use jobtracker_kit::db;
use jobtracker_kit::server::{ServiceApp, shutdown_on_signal};

#[derive(Parser)]
#[command(name = "jobtracker", version, about = "Jobtracker: the job-hunting tracker's services in one binary")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Runs one service, or all of them with the router on :4000.
    Run {
        #[arg(long, value_enum, default_value_t = Target::All, env = "JOBTRACKER_TARGET")]
        target: Target,
        /// A Federation v2 supergraph for the router (default: schema/supergraph.graphql,
        /// else the one compiled in). Polled for changes.
        #[arg(long, env = "SUPERGRAPH_PATH")]
        supergraph: Option<PathBuf>,
    },
    /// Creates every service's database if missing and runs its migrations.
    Migrate,
    /// Analytics maintenance.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
    /// Event backbone maintenance.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Fills the databases with realistic demo data (services' own code paths).
    Seed {
        #[arg(long, default_value_t = 1)]
        users: usize,
        /// Applications per user.
        #[arg(long, default_value_t = 200)]
        applications: usize,
        /// Random seed, for repeatable data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(Subcommand)]
pub enum AnalyticsCommand {
    /// Empties the read models and replays every event from the applications
    /// and interviews outboxes.
    Rebuild,
}

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Moves dead-lettered events back to the queue they died in (after the
    /// cause is fixed); every consumer queue unless narrowed down.
    ReplayDlq {
        /// Only the queues of this service (e.g. analytics).
        #[arg(long, conflicts_with = "queue")]
        service: Option<String>,
        /// Only this queue (e.g. analytics.events, without the EVENTS_PREFIX).
        #[arg(long)]
        queue: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    All,
    Router,
    Auth,
    Users,
    Applications,
    Interviews,
    Analytics,
    Dashboard,
}

impl Target {
    /// The subgraphs, in start order.
    pub const SUBGRAPHS: [Target; 6] =
        [Target::Auth, Target::Users, Target::Applications, Target::Interviews, Target::Analytics, Target::Dashboard];

    pub fn name(self) -> &'static str {
        match self {
            Target::All => "all",
            Target::Router => "router",
            Target::Auth => jobtracker_auth::SERVICE,
            Target::Users => jobtracker_users::SERVICE,
            Target::Applications => jobtracker_applications::SERVICE,
            Target::Interviews => jobtracker_interviews::SERVICE,
            Target::Analytics => jobtracker_analytics::SERVICE,
            Target::Dashboard => jobtracker_dashboard::SERVICE,
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

async fn build(target: Target) -> anyhow::Result<ServiceApp> {
    match target {
        Target::Auth => jobtracker_auth::build(jobtracker_auth::Config::from_env()?).await,
        Target::Users => jobtracker_users::build(jobtracker_users::Config::from_env()?).await,
        Target::Applications => jobtracker_applications::build(jobtracker_applications::Config::from_env()?).await,
        Target::Interviews => jobtracker_interviews::build(jobtracker_interviews::Config::from_env()?).await,
        Target::Analytics => jobtracker_analytics::build(jobtracker_analytics::Config::from_env()?).await,
        Target::Dashboard => jobtracker_dashboard::build(jobtracker_dashboard::Config::from_env()?).await,
        Target::All | Target::Router => unreachable!("not a subgraph: {target:?}"),
    }
}

/// Runs one subgraph until SIGINT/SIGTERM.
pub fn run_subgraph(target: Target) -> anyhow::Result<()> {
    jobtracker_kit::telemetry::init();
    runtime()?.block_on(async move {
        let shutdown = shutdown_on_signal();
        build(target).await?.run_until_stopped(shutdown).await
    })
}

/// Runs the router (its own ntex runtime) until SIGINT/SIGTERM.
pub fn run_router(supergraph: Option<PathBuf>) -> anyhow::Result<()> {
    let settings = jobtracker_router::RouterSettings::from_env(supergraph)?;
    let sdl = settings.supergraph_sdl()?;
    jobtracker_router::run(settings.with_subgraph_urls_from_env(&sdl))
}

pub fn migrate() -> anyhow::Result<()> {
    jobtracker_kit::telemetry::init();
    runtime()?.block_on(async {
        let auth = jobtracker_auth::Config::from_env()?;
        db::bootstrap(&auth.service.database, jobtracker_auth::MIGRATIONS).await?;
        let users = jobtracker_users::Config::from_env()?;
        db::bootstrap(&users.service.database, jobtracker_users::MIGRATIONS).await?;
        let applications = jobtracker_applications::Config::from_env()?;
        db::bootstrap(&applications.service.database, jobtracker_applications::MIGRATIONS).await?;
        let interviews = jobtracker_interviews::Config::from_env()?;
        db::bootstrap(&interviews.service.database, jobtracker_interviews::MIGRATIONS).await?;
        let analytics = jobtracker_analytics::Config::from_env()?;
        db::bootstrap(&analytics.service.database, jobtracker_analytics::MIGRATIONS).await?;
        tracing::info!("databases migrated");
        Ok(())
    })
}

pub fn seed(users: usize, applications: usize, seed: u64) -> anyhow::Result<()> {
    jobtracker_kit::telemetry::init();
    runtime()?.block_on(crate::seed::run(crate::seed::SeedOptions { users, applications, seed }))
}

pub fn analytics_rebuild() -> anyhow::Result<()> {
    jobtracker_kit::telemetry::init();
    runtime()?.block_on(async {
        let analytics = jobtracker_analytics::Config::from_env()?.service.database;
        let sources = [
            jobtracker_applications::Config::from_env()?.service.database,
            jobtracker_interviews::Config::from_env()?.service.database,
        ];
        let report = jobtracker_analytics::rebuild::rebuild(&analytics, &sources).await?;
        println!("replayed {} events of {} applications and interviews", report.events, report.aggregates);
        Ok(())
    })
}

pub fn events_replay_dlq(service: Option<&str>, queue: Option<&str>) -> anyhow::Result<()> {
    jobtracker_kit::telemetry::init();
    let queues = jobtracker_kit::events::dlq::select_queues(service, queue)?;
    runtime()?.block_on(async {
        let infra = jobtracker_kit::config::Infra::from_env();
        let bus = jobtracker_kit::events::amqp::EventBus::from_env(&infra.amqp_url);
        for spec in &queues {
            let moved = jobtracker_kit::events::dlq::replay(&bus, spec).await?;
            println!("{}: moved {moved} dead letters back", bus.queue(spec.name));
        }
        Ok(())
    })
}

//! Commands and targets of the `jobtracker` binary.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use jobtracker_kit::db;
use jobtracker_kit::server::shutdown_on_signal;
use jobtracker_kit::service::{ServiceEnv, ServiceSpec};
use jobtracker_services::SERVICES;

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
        /// all, router, or one service of the table (auth, users, …).
        #[arg(long, default_value = "all", env = "JOBTRACKER_TARGET")]
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
    /// Search index maintenance.
    Search {
        #[command(subcommand)]
        command: SearchCommand,
    },
    /// Event backbone maintenance.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Prints deployment manifests rendered from the table of services.
    Deploy {
        #[command(subcommand)]
        command: DeployCommand,
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
pub enum SearchCommand {
    /// Rebuilds the index (the configured backend) from the auth, users,
    /// applications and contacts outboxes; searches keep answering from the
    /// old index until the new one is whole.
    Reindex,
}

#[derive(Subcommand)]
pub enum DeployCommand {
    /// Kubernetes manifests (deploy/kubernetes/jobtracker.yaml is this output).
    Kubernetes,
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

/// What `jobtracker run` starts: everything, the router, or one service of
/// the table.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    All,
    Router,
    Service(&'static ServiceSpec),
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "all" => Ok(Target::All),
            "router" => Ok(Target::Router),
            name => jobtracker_services::find(name).map(Target::Service).ok_or_else(|| {
                let names: Vec<&str> = SERVICES.iter().map(|spec| spec.name).collect();
                format!("unknown target {name:?}; targets are all, router, {}", names.join(", "))
            }),
        }
    }
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::All => "all",
            Target::Router => "router",
            Target::Service(spec) => spec.name,
        }
    }
}

/// A service's environment from the process's, with the table's URLs and queues.
pub fn service_env(spec: &ServiceSpec) -> anyhow::Result<ServiceEnv> {
    ServiceEnv::from_process(spec, SERVICES)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Runs one subgraph until SIGINT/SIGTERM.
pub fn run_subgraph(spec: &'static ServiceSpec) -> anyhow::Result<()> {
    jobtracker_kit::telemetry::init();
    runtime()?.block_on(async move {
        let shutdown = shutdown_on_signal();
        (spec.build)(service_env(spec)?).await?.run_until_stopped(shutdown).await
    })
}

/// Runs the router (its own ntex runtime) until SIGINT/SIGTERM.
pub fn run_router(supergraph: Option<PathBuf>) -> anyhow::Result<()> {
    let auth = jobtracker_services::find("auth").map(jobtracker_kit::service::process_url);
    let settings = jobtracker_router::RouterSettings::from_env(supergraph, &auth.unwrap_or_default())?;
    let sdl = settings.supergraph_sdl()?;
    jobtracker_router::run(settings.with_subgraph_urls_from_env(&sdl))
}

pub fn migrate() -> anyhow::Result<()> {
    jobtracker_kit::telemetry::init();
    runtime()?.block_on(async {
        for spec in SERVICES {
            if let Some(migrations) = spec.migrations {
                db::bootstrap(&service_env(spec)?.service.database, migrations()).await?;
            }
        }
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
        let analytics = service_env(&jobtracker_analytics::SPEC)?.service.database;
        let sources = [
            service_env(&jobtracker_applications::SPEC)?.service.database,
            service_env(&jobtracker_interviews::SPEC)?.service.database,
        ];
        let report = jobtracker_analytics::rebuild::rebuild(&analytics, &sources).await?;
        println!("replayed {} events of {} applications and interviews", report.events, report.aggregates);
        Ok(())
    })
}

pub fn search_reindex() -> anyhow::Result<()> {
    use jobtracker_search::reindex::{Progress, reindex};
    use std::io::{IsTerminal, Write};
    jobtracker_kit::telemetry::init();
    runtime()?.block_on(async {
        let env = service_env(&jobtracker_search::SPEC)?;
        let config = jobtracker_search::Config::load(&env)?;
        let pool = db::bootstrap(&config.service.database, jobtracker_search::MIGRATIONS).await?;
        let index = jobtracker_search::open_index(&config.backend, pool.clone())?;
        let sources = [
            service_env(&jobtracker_users::SPEC)?.service.database,
            service_env(&jobtracker_auth::SPEC)?.service.database,
            service_env(&jobtracker_applications::SPEC)?.service.database,
            service_env(&jobtracker_contacts::SPEC)?.service.database,
        ];
        // A bar on a terminal; nothing between the lines of a log.
        let terminal = std::io::stderr().is_terminal();
        let show = |progress: Progress| {
            if !terminal {
                return;
            }
            let line = match progress {
                Progress::Read(events) => format!("reading outboxes: {events} events"),
                Progress::Written(done, total) => {
                    let filled = (done * 30).checked_div(total).unwrap_or(30);
                    format!("[{}{}] {done}/{total} documents", "#".repeat(filled), " ".repeat(30 - filled))
                }
            };
            let mut stderr = std::io::stderr();
            let _ = write!(stderr, "\r\x1b[2K{line}");
            let _ = stderr.flush();
        };
        let report = reindex(index.clone(), &pool, &sources, show).await?;
        if terminal {
            eprintln!();
        }
        println!(
            "{}: {} documents from {} events ({} changed meanwhile, applied again)",
            index.backend(),
            report.documents,
            report.events,
            report.caught_up
        );
        Ok(())
    })
}

pub fn events_replay_dlq(service: Option<&str>, queue: Option<&str>) -> anyhow::Result<()> {
    jobtracker_kit::telemetry::init();
    let every_queue = jobtracker_kit::service::all_queues(SERVICES);
    let queues = jobtracker_kit::events::dlq::select_queues(&every_queue, service, queue)?;
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

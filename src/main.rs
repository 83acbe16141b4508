//! `jobtracker`: one binary for every service. `main` only wires.

mod cli;
mod deploy;
mod seed;
mod supervisor;

use clap::Parser;
use jobtracker_router::hive_router::{RouterGlobalAllocator, configure_global_allocator};

use cli::{Cli, Command, Target};

// mimalloc, as in Hive Router's own binary.
configure_global_allocator!();

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run { target: Target::All, supergraph } => supervisor::run_all(supergraph),
        Command::Run { target: Target::Router, supergraph } => cli::run_router(supergraph),
        Command::Run { target: Target::Service(spec), .. } => cli::run_subgraph(spec),
        Command::Migrate => cli::migrate(),
        Command::Deploy { command: cli::DeployCommand::Kubernetes } => {
            print!("{}", deploy::kubernetes());
            Ok(())
        }
        Command::Seed { users, applications, seed } => cli::seed(users, applications, seed),
        Command::Analytics { command: cli::AnalyticsCommand::Rebuild } => cli::analytics_rebuild(),
        Command::Search { command: cli::SearchCommand::Reindex } => cli::search_reindex(),
        Command::Events { command: cli::EventsCommand::ReplayDlq { service, queue } } => {
            cli::events_replay_dlq(service.as_deref(), queue.as_deref())
        }
    }
}

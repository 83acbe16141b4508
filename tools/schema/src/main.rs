//! `jobtracker-schema compose|check`: exports each subgraph's SDL straight
//! from its async-graphql schema (through the table of services, which must
//! agree with supergraph.yaml), composes them with Apollo's reference
//! composition (apollo-federation, with satisfiability checks) and writes
//! schema/. `check` fails when the checked-in files differ from the code.
//! A build tool only: the composer never enters the runtime binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use apollo_federation::composition::{CompositionOptions, compose};
use apollo_federation::subgraph::typestate::Subgraph;
use clap::{Parser, Subcommand};
use jobtracker_services::SERVICES;
use serde::Deserialize;

#[derive(Parser)]
#[command(about = "Export subgraph SDL and compose the supergraph")]
struct Cli {
    #[command(subcommand)]
    command: Mode,
    /// The workspace root (where supergraph.yaml is).
    #[arg(long, default_value = ".")]
    root: PathBuf,
}

#[derive(Subcommand, PartialEq)]
enum Mode {
    /// Writes schema/<name>.graphql and schema/supergraph.graphql.
    Compose,
    /// Fails when schema/ differs from what the code would write.
    Check,
}

#[derive(Deserialize)]
struct SupergraphConfig {
    subgraphs: BTreeMap<String, SubgraphConfig>,
}

#[derive(Deserialize)]
struct SubgraphConfig {
    routing_url: String,
    schema: SchemaFile,
}

#[derive(Deserialize)]
struct SchemaFile {
    file: PathBuf,
}

/// The table of services and supergraph.yaml must name the same subgraphs,
/// at the same default ports.
fn check_against_table(config: &SupergraphConfig) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for spec in SERVICES {
        match config.subgraphs.get(spec.name) {
            None => problems.push(format!("{} is in the table of services but not in supergraph.yaml", spec.name)),
            Some(subgraph) if !subgraph.routing_url.contains(&format!(":{}/", spec.default_port)) => {
                problems.push(format!(
                    "{}: routing_url {} is not on its default port {}",
                    spec.name, subgraph.routing_url, spec.default_port
                ))
            }
            Some(_) => {}
        }
    }
    for name in config.subgraphs.keys() {
        if jobtracker_services::find(name).is_none() {
            problems.push(format!("supergraph.yaml names {name:?}, which is not in the table of services"));
        }
    }
    if problems.is_empty() { Ok(()) } else { bail!("{}", problems.join("\n")) }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config: SupergraphConfig = serde_yaml::from_str(
        &std::fs::read_to_string(cli.root.join("supergraph.yaml")).context("reading supergraph.yaml")?,
    )?;

    check_against_table(&config)?;

    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut subgraphs = Vec::new();
    for (name, subgraph) in &config.subgraphs {
        let spec = jobtracker_services::find(name).context("checked above")?;
        let sdl = (spec.sdl)();
        subgraphs.push(
            Subgraph::parse(name, &subgraph.routing_url, &sdl)
                .map_err(|err| anyhow::anyhow!("subgraph {name}: {err}"))?,
        );
        files.push((cli.root.join(&subgraph.schema.file), sdl));
    }
    let supergraph = compose(subgraphs, CompositionOptions::default()).map_err(|failure| {
        let errors: Vec<String> = failure.errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("composition failed:\n{}", errors.join("\n"))
    })?;
    for hint in supergraph.hints() {
        eprintln!("hint: {}", hint.message());
    }
    files.push((cli.root.join("schema/supergraph.graphql"), supergraph.schema().schema().to_string()));

    // Only the composed supergraph is checked in (the contract, and what the
    // router embeds); each subgraph's SDL is written for tools such as rover
    // but is a by-product of the code, ignored by git.
    let (supergraph_file, subgraph_files) = files.split_last().context("the supergraph is always composed")?;
    match cli.command {
        Mode::Compose => {
            for (path, content) in subgraph_files.iter().chain([supergraph_file]) {
                write(path, content)?;
            }
            println!("composed {} subgraphs into schema/supergraph.graphql", config.subgraphs.len());
        }
        Mode::Check => {
            let stale: Vec<String> = [supergraph_file]
                .into_iter()
                .filter(|(path, content)| std::fs::read_to_string(path).ok().as_deref() != Some(content.as_str()))
                .map(|(path, _)| path.display().to_string())
                .collect();
            if !stale.is_empty() {
                bail!(
                    "schema files differ from the code: {}\nrun `make schema` and commit the result",
                    stale.join(", ")
                );
            }
            println!("schema/ matches the code");
        }
    }
    Ok(())
}

fn write(path: &Path, content: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entries: &[(&str, u16)]) -> SupergraphConfig {
        let subgraphs = entries
            .iter()
            .map(|(name, port)| {
                let url = format!("http://127.0.0.1:{port}/graphql");
                let file = PathBuf::from(format!("./schema/{name}.graphql"));
                (name.to_string(), SubgraphConfig { routing_url: url, schema: SchemaFile { file } })
            })
            .collect();
        SupergraphConfig { subgraphs }
    }

    #[test]
    fn supergraph_yaml_must_agree_with_the_table_of_services() {
        let table: Vec<(&str, u16)> = SERVICES.iter().map(|s| (s.name, s.default_port)).collect();
        assert!(check_against_table(&config(&table)).is_ok());

        let missing = check_against_table(&config(&table[1..])).unwrap_err().to_string();
        assert!(missing.contains("auth is in the table of services but not in supergraph.yaml"), "{missing}");
        let extra = check_against_table(&config(&[table.as_slice(), &[("reports", 4099)]].concat())).unwrap_err();
        assert!(extra.to_string().contains("\"reports\", which is not in the table"), "{extra}");
        let mut moved = table.clone();
        moved[0].1 = 5001;
        assert!(check_against_table(&config(&moved)).unwrap_err().to_string().contains("default port"));
    }
}

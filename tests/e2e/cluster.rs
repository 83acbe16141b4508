//! The system deployed on this machine as in production: `replicas`
//! supervisors (`jobtracker run`), each running every service and a router
//! on ports of its own, over one database per service and one broker, with a
//! round-robin TCP proxy in front of each service and of the routers (what a
//! Kubernetes Service is). Routers reach subgraphs and services reach each
//! other through the proxies, so every hop may land on either replica.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use jobtracker_testkit::{Account, Gql, TestEnv, free_port};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{binary, eventually, scrape, total};

pub const ROUTER: &str = "router";

pub struct Cluster {
    pub env: TestEnv,
    pub replicas: Vec<Replica>,
    /// Name (a service or `router`) → its proxy, held: a dropped proxy stops.
    _proxies: BTreeMap<&'static str, Proxy>,
    shared: Vec<(String, String)>,
    /// The routers' proxy, anonymous.
    pub gql: Gql,
}

pub struct Replica {
    /// Name (a service or `router`) → this replica's own port.
    pub ports: BTreeMap<&'static str, u16>,
    supervisor: std::process::Child,
    pub log: PathBuf,
}

fn names() -> impl Iterator<Item = &'static str> {
    jobtracker_services::SERVICES.iter().map(|spec| spec.name).chain([ROUTER])
}

impl Cluster {
    /// Starts `replicas` supervisors with `vars` and waits until every
    /// service of every replica is healthy and every router ready.
    pub async fn start(replicas: usize, vars: &[(&str, &str)]) -> Self {
        let env = TestEnv::new();
        let ports: Vec<BTreeMap<&'static str, u16>> =
            (0..replicas).map(|_| names().map(|name| (name, free_port())).collect()).collect();
        let mut proxies = BTreeMap::new();
        for name in names() {
            proxies.insert(name, Proxy::start(ports.iter().map(|p| p[name]).collect()).await);
        }
        let data_dir = std::env::temp_dir().join(format!("{}-data", env.bus.prefix));
        let mut shared: Vec<(String, String)> = vec![
            ("EVENTS_PREFIX".into(), env.bus.prefix.clone()),
            ("SERVICE_TOKEN".into(), env.service_token.expose().to_string()),
            ("SUPERGRAPH_PATH".into(), jobtracker_testkit::router::workspace_supergraph().display().to_string()),
            ("DATA_DIR".into(), data_dir.display().to_string()),
            ("ROUTER_WORKERS".into(), "2".into()),
        ];
        for spec in jobtracker_services::SERVICES {
            let upper = spec.name.to_ascii_uppercase();
            shared.push((format!("{upper}_URL"), format!("http://127.0.0.1:{}", proxies[spec.name].port)));
            shared.push((format!("{upper}_DATABASE"), env.database(spec.name).name));
        }
        shared.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let replicas = ports
            .into_iter()
            .enumerate()
            .map(|(index, ports)| {
                let log = std::env::temp_dir().join(format!("{}-replica-{index}.log", env.bus.prefix));
                let supervisor = std::process::Command::new(binary())
                    .arg("run")
                    .envs(shared.iter().map(|(k, v)| (k, v)))
                    .envs(
                        ports
                            .iter()
                            .map(|(name, port)| (format!("{}_PORT", name.to_ascii_uppercase()), port.to_string())),
                    )
                    .stdout(std::fs::File::create(&log).unwrap())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("the supervisor starts");
                Replica { ports, supervisor, log }
            })
            .collect();
        let gql = Gql::new(format!("http://127.0.0.1:{}/graphql", proxies[ROUTER].port));
        let cluster = Self { env, replicas, _proxies: proxies, shared, gql };
        for replica in &cluster.replicas {
            for (name, port) in &replica.ports {
                let probe = if *name == ROUTER { "readiness" } else { "health" };
                let url = format!("http://127.0.0.1:{port}/{probe}");
                let up = eventually(90, async || reqwest::get(&url).await.is_ok_and(|r| r.status().is_success())).await;
                assert!(up, "{name} of a replica did not come up; see {}", replica.log.display());
            }
        }
        cluster
    }

    /// One replica's router, bypassing the proxy.
    pub fn router_of(&self, replica: usize) -> Gql {
        Gql::new(format!("http://127.0.0.1:{}/graphql", self.replicas[replica].ports[ROUTER]))
    }

    pub async fn sign_up(&self, name: &str) -> (Account, Gql) {
        let account = Account::register(&self.gql, name).await;
        let client = self.gql.with_token(&account.access_token);
        (account, client)
    }

    /// `jobtracker <args>` with the cluster's configuration (a maintenance
    /// command such as `analytics rebuild`); its standard output.
    pub fn command(&self, args: &[&str]) -> String {
        let output = std::process::Command::new(binary())
            .args(args)
            .envs(self.shared.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("jobtracker runs");
        assert!(output.status.success(), "jobtracker {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub async fn database(&self, service: &str) -> AsyncPgConnection {
        let url = format!("{}/{}", self.env.infra.database_base_url, self.env.database(service).name);
        AsyncPgConnection::establish(&url).await.unwrap_or_else(|err| panic!("{url}: {err}"))
    }

    /// `metric` summed over every replica of `service` (each scraped at its
    /// own port; 0 where a service has no such metric).
    pub async fn sum(&self, service: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
        let mut sum = 0.0;
        for replica in &self.replicas {
            let scraped = scrape(&format!("http://127.0.0.1:{}", replica.ports[service])).await;
            sum += total(&scraped, metric, labels).unwrap_or(0.0);
        }
        sum
    }

    /// The pid of `target`'s process in `replica` (a child of its supervisor).
    pub fn pid_of(&self, replica: usize, target: &str) -> Option<u32> {
        let supervisor = self.replicas[replica].supervisor.id();
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The parent pid is the second field after the parenthesised name.
            let parent: u32 = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<&str> = cmdline.split('\0').collect();
            let runs_target = args.windows(2).any(|w| w == ["--target", target]);
            (parent == supervisor && runs_target).then_some(pid)
        })
    }

    /// `kill -9` of `target` in `replica`; its supervisor restarts it. Waits
    /// until the new process is healthy.
    pub async fn kill(&self, replica: usize, target: &str) {
        let pid = self.pid_of(replica, target).unwrap_or_else(|| panic!("no {target} process in replica {replica}"));
        let killed = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
        assert!(killed.success());
        let health = format!("http://127.0.0.1:{}/health", self.replicas[replica].ports[target]);
        let restarted = eventually(60, async || {
            self.pid_of(replica, target).is_some_and(|new| new != pid)
                && reqwest::get(&health).await.is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(restarted, "the supervisor restarted {target}");
    }

    /// (queue, ready, unacknowledged) of every queue of this cluster's
    /// prefix, dead-letter queues included.
    pub fn queues(&self) -> Vec<(String, u64, u64)> {
        let output = std::process::Command::new("rabbitmqctl")
            .args(["-q", "list_queues", "name", "messages_ready", "messages_unacknowledged"])
            .output()
            .expect("rabbitmqctl runs");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let name = fields.next()?.to_string();
                let ready = fields.next()?.parse().ok()?;
                let unacked = fields.next()?.parse().ok()?;
                name.starts_with(&self.env.bus.prefix).then_some((name, ready, unacked))
            })
            .collect()
    }

    /// SIGTERM to every supervisor (each stops its children) and the
    /// broker's queues and exchanges of this cluster removed.
    pub async fn stop(mut self) {
        self.terminate();
        let connection = self.env.bus.connect().await.expect("RabbitMQ");
        let channel = connection.create_channel().await.unwrap();
        for (queue, _, _) in self.queues() {
            let _ = channel.queue_delete(queue.as_str().into(), Default::default()).await;
        }
        for exchange in [self.env.bus.events_exchange(), self.env.bus.dead_letter_exchange()] {
            let _ = channel.exchange_delete(exchange.as_str().into(), Default::default()).await;
        }
    }

    fn terminate(&mut self) {
        for replica in &mut self.replicas {
            if replica.supervisor.try_wait().ok().flatten().is_some() {
                continue;
            }
            let pid = replica.supervisor.id().to_string();
            let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
            for _ in 0..400 {
                if replica.supervisor.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = replica.supervisor.kill();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A TCP round-robin balancer: each connection goes to the next backend
/// that accepts it (a killed replica's port is skipped).
struct Proxy {
    port: u16,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(backends: Vec<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let next = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let first = next.fetch_add(1, Ordering::Relaxed);
                let backends = backends.clone();
                tokio::spawn(async move {
                    for offset in 0..backends.len() {
                        let port = backends[(first + offset) % backends.len()];
                        if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", port)).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
            }
        });
        Self { port, accept }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

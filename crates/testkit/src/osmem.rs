//! An OpenSearch-compatible server for a test: osmem-server (PyPI
//! `osmem-server`, an in-memory emulator, not Elasticsearch) on a port it
//! picks, stopped with the test. `scripts/ensure-services.sh --browser`
//! installs it.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

pub struct OsmemServer {
    _child: Child,
    /// Kept open: a server writing to a closed pipe would die of SIGPIPE.
    _stdout: BufReader<ChildStdout>,
    pub url: String,
}

/// `OSMEM_SERVER`, else where ensure-services.sh unpacks the wheel, else the PATH.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("OSMEM_SERVER") {
        return PathBuf::from(path);
    }
    let unpacked = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".local/share/jobtracker/osmem/osmem_server/bin/osmem-server"));
    unpacked.filter(|path| path.exists()).unwrap_or_else(|| PathBuf::from("osmem-server"))
}

impl OsmemServer {
    pub async fn start() -> Self {
        let mut child = Command::new(binary())
            .args(["-addr", "127.0.0.1:0", "-no-stdin-watch", "-no-ja", "-parent-pid", &std::process::id().to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| {
                panic!("osmem-server does not start ({err}); run scripts/ensure-services.sh --browser")
            });
        // Its first line says where it listens: {"url":"http://127.0.0.1:PORT",...}.
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(15), stdout.read_line(&mut line));
        read.await.expect("osmem-server announces its address").expect("osmem-server's stdout");
        let announced: serde_json::Value = serde_json::from_str(&line).expect("osmem-server's JSON line");
        let url = announced["url"].as_str().expect("a url in osmem-server's first line").to_string();
        Self { _child: child, _stdout: stdout, url }
    }

    /// What the search service needs to use this server.
    pub fn search_vars(&self) -> Vec<(String, String)> {
        vec![("ELASTICSEARCH_URL".to_string(), self.url.clone())]
    }
}

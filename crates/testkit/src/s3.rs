//! A real S3-compatible server for a test: s3s-fs (which checks SigV4
//! signatures, presigned URLs included) on a free loopback port over a
//! temporary directory, stopped with the test. `scripts/ensure-services.sh
//! --browser` installs it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub struct S3Server {
    _child: Child,
    dir: PathBuf,
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("S3S_FS") {
        return PathBuf::from(path);
    }
    let cargo_bin = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin/s3s-fs"));
    cargo_bin.filter(|path| path.exists()).unwrap_or_else(|| PathBuf::from("s3s-fs"))
}

impl S3Server {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let dir = std::env::temp_dir().join(format!("jt-s3-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a directory for s3s-fs");
        let (access_key, secret_key) = ("jobtracker-test".to_string(), format!("secret-{}", uuid::Uuid::new_v4()));
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", &access_key, "--secret-key"])
            .arg(&secret_key)
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("s3s-fs does not start ({err}); run scripts/ensure-services.sh --browser"));
        let deadline = Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { _child: child, dir, endpoint: format!("http://127.0.0.1:{port}"), access_key, secret_key }
    }

    /// What the files service needs to store in this server's `bucket`.
    pub fn files_vars(&self, bucket: &str) -> Vec<(String, String)> {
        [
            ("FILES_STORAGE", "s3"),
            ("S3_ENDPOINT", self.endpoint.as_str()),
            ("S3_BUCKET", bucket),
            ("S3_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", self.access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Where s3s-fs keeps `key` of `bucket` (objects are plain files).
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.dir.join(bucket).join(key)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! Where résumé bytes live, behind one trait: a local directory (default;
//! its upload and download URLs are signed by us and served by this service,
//! see `http.rs`) or S3 through aws-sdk-s3 (presigned URLs straight to the
//! bucket; path-style for S3-compatible servers). Keys are ours (`uploads/<id>`,
//! `resumes/<id>`), never derived from what a client sent.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, timeout::TimeoutConfig};
use aws_sdk_s3::presigning::PresigningConfig;
use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt;

use crate::model::{File, StoredObject};
use crate::signing::{Grant, UrlSigner};

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// A URL that accepts one HTTP PUT of `file`'s bytes until `expires_at`.
    async fn upload_url(&self, file: &File, expires_at: DateTime<Utc>) -> anyhow::Result<String>;
    /// A URL that downloads `file`'s résumé (as an attachment with its name and
    /// type) until `expires_at`.
    async fn download_url(&self, file: &File, expires_at: DateTime<Utc>) -> anyhow::Result<String>;
    /// Moves the object at `from` to `to` (replacing it); false when there is none.
    async fn promote(&self, from: &str, to: &str) -> anyhow::Result<bool>;
    /// The object at `key`, read only when it has `expected_size` bytes.
    async fn read(&self, key: &str, expected_size: u64) -> anyhow::Result<StoredObject>;
    /// Deletes the object at `key`; a missing one is no error.
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// Deletes what interrupted uploads left behind, older than `age`
    /// (S3 keeps no partial objects: nothing to do).
    async fn forget_partials(&self, _age: Duration) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A directory on this machine (or a volume every replica mounts).
pub struct LocalStore {
    root: PathBuf,
    /// Where clients reach this service's `/uploads` and `/downloads`.
    public_url: String,
    signer: UrlSigner,
}

impl LocalStore {
    pub async fn open(root: PathBuf, public_url: String, signer: UrlSigner) -> anyhow::Result<Self> {
        for dir in ["uploads", "resumes", PARTIALS] {
            tokio::fs::create_dir_all(root.join(dir))
                .await
                .with_context(|| format!("creating {}", root.join(dir).display()))?;
        }
        Ok(Self { root, public_url: public_url.trim_end_matches('/').to_string(), signer })
    }

    /// The file behind a key (keys are ours: `<dir>/<uuid>`).
    pub fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    /// A fresh path for the bytes of a PUT while they arrive.
    pub fn partial_path(&self) -> PathBuf {
        self.root.join(PARTIALS).join(uuid::Uuid::new_v4().simple().to_string())
    }
}

/// Where the local store writes PUTs until they are whole.
const PARTIALS: &str = "partial";

fn missing(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::NotFound
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn upload_url(&self, file: &File, expires_at: DateTime<Utc>) -> anyhow::Result<String> {
        Ok(format!("{}/uploads/{}?{}", self.public_url, file.id, self.signer.query(Grant::Upload, file.id, expires_at)))
    }

    async fn download_url(&self, file: &File, expires_at: DateTime<Utc>) -> anyhow::Result<String> {
        let query = self.signer.query(Grant::Download, file.id, expires_at);
        Ok(format!("{}/downloads/{}?{query}", self.public_url, file.id))
    }

    async fn promote(&self, from: &str, to: &str) -> anyhow::Result<bool> {
        match tokio::fs::rename(self.path(from), self.path(to)).await {
            Ok(()) => Ok(true),
            Err(err) if missing(&err) => Ok(false),
            Err(err) => Err(err).with_context(|| format!("moving {from} to {to}")),
        }
    }

    async fn read(&self, key: &str, expected_size: u64) -> anyhow::Result<StoredObject> {
        let mut opened = match tokio::fs::File::open(self.path(key)).await {
            Ok(opened) => opened,
            Err(err) if missing(&err) => return Ok(StoredObject::Missing),
            Err(err) => return Err(err).with_context(|| format!("opening {key}")),
        };
        let size = opened.metadata().await.with_context(|| format!("reading the size of {key}"))?.len();
        if size != expected_size {
            return Ok(StoredObject::WrongSize(size));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        opened.read_to_end(&mut bytes).await.with_context(|| format!("reading {key}"))?;
        Ok(StoredObject::Bytes(bytes))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.path(key)).await {
            Err(err) if !missing(&err) => Err(err).with_context(|| format!("deleting {key}")),
            _ => Ok(()),
        }
    }

    async fn forget_partials(&self, age: Duration) -> anyhow::Result<()> {
        let mut entries = tokio::fs::read_dir(self.root.join(PARTIALS)).await.context("listing partial uploads")?;
        while let Some(entry) = entries.next_entry().await? {
            let modified = entry.metadata().await?.modified()?;
            if modified.elapsed().unwrap_or_default() > age {
                self.delete(&format!("{PARTIALS}/{}", entry.file_name().to_string_lossy())).await?;
            }
        }
        Ok(())
    }
}

/// Where the S3 backend stores, from `S3_*` and the usual `AWS_*` variables.
#[derive(Clone, Debug)]
pub struct S3Settings {
    /// `S3_ENDPOINT`; `None` is AWS itself.
    pub endpoint: Option<String>,
    /// `S3_PUBLIC_ENDPOINT`: where clients reach the same server, when that
    /// differs (a container network name is no use to a browser); presigned
    /// URLs are signed for this host.
    pub public_endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// The longest one S3 call may take.
    pub timeout: Duration,
}

pub struct S3Store {
    client: aws_sdk_s3::Client,
    /// Signs the URLs clients use (the same client unless `S3_PUBLIC_ENDPOINT`).
    presigner: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    /// A client for `settings`; creates the bucket when it does not exist.
    pub async fn connect(settings: S3Settings) -> anyhow::Result<Self> {
        let credentials = Credentials::new(
            settings.access_key_id,
            settings.secret_access_key,
            settings.session_token,
            None,
            "environment",
        );
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region))
            .credentials_provider(credentials)
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(settings.timeout)
                    .connect_timeout(settings.timeout.min(Duration::from_secs(3)))
                    .build(),
            );
        let with_endpoint = |config: aws_sdk_s3::config::Builder, endpoint: &Option<String>| match endpoint {
            // S3-compatible servers (MinIO, s3s-fs) address buckets by path.
            Some(endpoint) => config.endpoint_url(endpoint).force_path_style(true),
            None => config,
        };
        let client = aws_sdk_s3::Client::from_conf(with_endpoint(config.clone(), &settings.endpoint).build());
        let presigner = match &settings.public_endpoint {
            Some(_) => aws_sdk_s3::Client::from_conf(with_endpoint(config, &settings.public_endpoint).build()),
            None => client.clone(),
        };
        let store = Self { client, presigner, bucket: settings.bucket };
        store.ensure_bucket().await?;
        Ok(store)
    }

    async fn ensure_bucket(&self) -> anyhow::Result<()> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
                match self.client.create_bucket().bucket(&self.bucket).send().await {
                    Ok(_) => Ok(()),
                    // Another replica created it first.
                    Err(err) if err.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => Ok(()),
                    Err(err) => {
                        Err(anyhow::Error::new(err)).with_context(|| format!("creating bucket {}", self.bucket))
                    }
                }
            }
            Err(err) => Err(anyhow::Error::new(err)).with_context(|| format!("reaching bucket {}", self.bucket)),
        }
    }
}

/// A presigning window ending at `expires_at`.
fn presigning(expires_at: DateTime<Utc>) -> anyhow::Result<PresigningConfig> {
    let now = Utc::now();
    let window = (expires_at - now).to_std().context("an expiry in the past")?;
    Ok(PresigningConfig::builder().start_time(SystemTime::from(now)).expires_in(window).build()?)
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn upload_url(&self, file: &File, expires_at: DateTime<Utc>) -> anyhow::Result<String> {
        let request = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(file.upload_key())
            .content_type(file.kind.content_type())
            // Signed: S3 refuses a PUT of any other length.
            .content_length(i64::try_from(file.size_bytes)?)
            .presigned(presigning(expires_at)?)
            .await?;
        Ok(request.uri().to_string())
    }

    async fn download_url(&self, file: &File, expires_at: DateTime<Utc>) -> anyhow::Result<String> {
        let request = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(file.resume_key())
            .response_content_type(file.kind.content_type())
            .response_content_disposition(file.content_disposition())
            .presigned(presigning(expires_at)?)
            .await?;
        Ok(request.uri().to_string())
    }

    async fn promote(&self, from: &str, to: &str) -> anyhow::Result<bool> {
        // A server-side copy: the bytes checked next are a snapshot that a
        // later PUT to the upload URL cannot touch.
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(to)
            .send()
            .await;
        match copied {
            Ok(_) => {}
            Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return Ok(false),
            Err(err) => return Err(anyhow::Error::new(err)).with_context(|| format!("copying {from} to {to}")),
        }
        self.delete(from).await?;
        Ok(true)
    }

    async fn read(&self, key: &str, expected_size: u64) -> anyhow::Result<StoredObject> {
        let object = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(object) => object,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(StoredObject::Missing),
            Err(err) => return Err(anyhow::Error::new(err)).with_context(|| format!("reading {key}")),
        };
        let size = object.content_length().and_then(|len| u64::try_from(len).ok()).unwrap_or(0);
        if size != expected_size {
            return Ok(StoredObject::WrongSize(size));
        }
        let bytes = object.body.collect().await.with_context(|| format!("reading {key}"))?.into_bytes();
        Ok(StoredObject::Bytes(bytes.into()))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .with_context(|| format!("deleting {key}"))?;
        Ok(())
    }
}

use jobtracker_testkit::{Account, Gql, S3Server, Stack};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const PDF: &[u8] = include_bytes!("../fixtures/resume.pdf");
pub const DOCX: &[u8] = include_bytes!("../fixtures/resume.docx");
pub const DOC: &[u8] = include_bytes!("../fixtures/resume.doc");
pub const NOT_WORD_ZIP: &[u8] = include_bytes!("../fixtures/not-word.zip");

pub const PDF_TYPE: &str = "application/pdf";
pub const DOCX_TYPE: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
pub const DOC_TYPE: &str = "application/msword";

pub const CREATE: &str = "mutation($n: String!, $t: String!, $s: Int!) { createResumeUpload(fileName: $n, contentType: $t, sizeBytes: $s) { uploadUrl expiresAt file { id fileName contentType sizeBytes uploadedAt } } }";
pub const ATTACH: &str = "mutation($id: ID!) { attachResume(fileId: $id) { id } }";
pub const RESUME: &str = "query($id: ID!) { _entities(representations: [{ __typename: \"User\", id: $id }]) { ... on User { resume { id fileName contentType sizeBytes downloadUrl } } } }";

pub struct TestFiles {
    pub stack: Stack,
    pub auth: Gql,
    pub anonymous: Gql,
    pub http: reqwest::Client,
    _s3: Option<S3Server>,
}

impl TestFiles {
    /// Local backend, with `vars` (e.g. short URL lifetimes).
    pub async fn spawn(vars: &[(&str, &str)]) -> Self {
        Self::start(owned(vars), None).await
    }

    /// S3 backend on a fresh s3s-fs server.
    pub async fn spawn_s3(vars: &[(&str, &str)]) -> (Self, &'static str) {
        let server = S3Server::start().await;
        let bucket = "resumes-test";
        let mut all = server.files_vars(bucket);
        all.extend(owned(vars));
        (Self::start(all, Some(server)).await, bucket)
    }

    async fn start(vars: Vec<(String, String)>, s3: Option<S3Server>) -> Self {
        let stack = Stack::start_with(&[&jobtracker_auth::SPEC, &jobtracker_files::SPEC], &vars).await;
        let auth = Gql::new(stack["auth"].graphql_url());
        let anonymous = Gql::new(stack["files"].graphql_url());
        Self { stack, auth, anonymous, http: reqwest::Client::new(), _s3: s3 }
    }

    pub fn s3(&self) -> &S3Server {
        self._s3.as_ref().expect("an S3 test")
    }

    pub async fn user(&self, name: &str) -> (Account, Gql) {
        let account = Account::register(&self.auth, name).await;
        let client = self.anonymous.with_token(&account.access_token);
        (account, client)
    }

    pub async fn put(&self, url: &str, content_type: &str, bytes: &[u8]) -> StatusCode {
        let response = self.http.put(url).header("content-type", content_type).body(bytes.to_vec()).send().await;
        response.expect("upload URL reachable").status()
    }

    /// GET of a download URL: status, headers and body.
    pub async fn get(&self, url: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let response = self.http.get(url).send().await.expect("download URL reachable");
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.bytes().await.expect("body").to_vec())
    }

    /// createResumeUpload → PUT: the upload (asserting both worked).
    pub async fn upload(&self, client: &Gql, name: &str, content_type: &str, bytes: &[u8]) -> Value {
        let upload = create_upload(client, name, content_type, bytes.len()).await;
        let status = self.put(upload["uploadUrl"].as_str().expect("uploadUrl"), content_type, bytes).await;
        assert_eq!(status, StatusCode::OK, "PUT of {name}");
        upload
    }

    /// The user's résumé as the router would complete `User.resume`.
    pub async fn resume_of(&self, viewer: &Gql, user_id: &str) -> Value {
        let response = viewer.run(RESUME, json!({ "id": user_id })).await;
        response.data()["_entities"][0]["resume"].clone()
    }
}

fn owned(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub async fn create_upload(client: &Gql, name: &str, content_type: &str, size: usize) -> Value {
    let response = client.run(CREATE, json!({ "n": name, "t": content_type, "s": size })).await;
    assert!(response.errors().is_empty(), "{}", response.body);
    response.data()["createResumeUpload"].clone()
}

pub async fn attach(client: &Gql, upload: &Value) -> jobtracker_testkit::GqlResponse {
    client.run(ATTACH, json!({ "id": upload["file"]["id"] })).await
}

/// The files service's local store in this test.
pub fn data_dir(files: &TestFiles) -> std::path::PathBuf {
    let env = files.stack.env.service_env(&jobtracker_files::SPEC);
    std::path::PathBuf::from(env.vars.get("DATA_DIR").expect("tests have a DATA_DIR")).join("files")
}

/// Shared by both backends: with 2-second URLs, an upload URL and a download
/// URL that worked are refused once expired. Returns the download URL and
/// the owner, for checks of the backend's own.
pub async fn urls_expire(files: &TestFiles) -> (String, Account, Gql) {
    let (ada, client) = files.user("Ada Lovelace").await;
    let late = create_upload(&client, "late.pdf", PDF_TYPE, PDF.len()).await;
    let upload = files.upload(&client, "cv.pdf", PDF_TYPE, PDF).await;
    assert!(attach(&client, &upload).await.errors().is_empty());
    let download = files.resume_of(&client, &ada.user_id).await["downloadUrl"].as_str().unwrap().to_string();
    assert_eq!(files.get(&download).await.0, StatusCode::OK);

    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(files.put(late["uploadUrl"].as_str().unwrap(), PDF_TYPE, PDF).await, StatusCode::FORBIDDEN);
    assert_eq!(files.get(&download).await.0, StatusCode::FORBIDDEN);
    (download, ada, client)
}

pub const SHORT_URLS: [(&str, &str); 2] = [("FILES_UPLOAD_URL_SECS", "2"), ("FILES_DOWNLOAD_URL_SECS", "2")];

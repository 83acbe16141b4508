//! Résumés through the router, as a frontend does them: createResumeUpload,
//! PUT the bytes to the URL it answers, attachResume (whose User the router
//! completes from users), then `me { resume }` and another user's
//! `user(id) { resume }` with a download URL that serves the same bytes. On
//! the local backend and on a real S3-compatible server (s3s-fs).

use jobtracker_testkit::{Gql, RouterOptions, S3Server};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::System;

const PDF: &[u8] = include_bytes!("../../subgraphs/files/tests/fixtures/resume.pdf");
const DOCX: &[u8] = include_bytes!("../../subgraphs/files/tests/fixtures/resume.docx");
const DOCX_TYPE: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

async fn upload_and_attach(client: &Gql, name: &str, content_type: &str, bytes: &[u8]) -> (Value, Value) {
    let created = client
        .run(
            "mutation($n: String!, $t: String!, $s: Int!) { createResumeUpload(fileName: $n, contentType: $t, sizeBytes: $s) { uploadUrl expiresAt file { id } } }",
            json!({ "n": name, "t": content_type, "s": bytes.len() }),
        )
        .await;
    let upload = created.data()["createResumeUpload"].clone();
    let put = reqwest::Client::new()
        .put(upload["uploadUrl"].as_str().expect("uploadUrl"))
        .header("content-type", content_type)
        .body(bytes.to_vec())
        .send()
        .await
        .expect("upload URL reachable");
    assert_eq!(put.status(), StatusCode::OK);
    let attached = client
        .run(
            "mutation($id: ID!) { attachResume(fileId: $id) { id fullName resume { id fileName sizeBytes } } }",
            json!({ "id": upload["file"]["id"] }),
        )
        .await;
    (upload, attached.data()["attachResume"].clone())
}

async fn download(url: &str) -> (StatusCode, Vec<u8>) {
    let response = reqwest::get(url).await.expect("download URL reachable");
    (response.status(), response.bytes().await.expect("body").to_vec())
}

async fn a_resume_goes_up_and_is_seen_and_downloaded_by_another_user(system: &System) {
    let (ada, ada_client) = system.sign_up("Ada Lovelace").await;
    let (_, grace) = system.sign_up("Grace Hopper").await;
    let (_, mallory) = system.sign_up("Mallory").await;

    let (upload, user) = upload_and_attach(&ada_client, "Ada Lovelace.docx", DOCX_TYPE, DOCX).await;
    assert_eq!(
        user,
        json!({ "id": ada.user_id, "fullName": "Ada Lovelace", "resume": { "id": upload["file"]["id"], "fileName": "Ada Lovelace.docx", "sizeBytes": DOCX.len() } })
    );
    let mine = ada_client.run("{ me { resume { fileName contentType downloadUrl } } }", json!({})).await;
    assert_eq!(mine.data()["me"]["resume"]["contentType"], DOCX_TYPE);

    let seen = grace
        .run("query($id: ID!) { user(id: $id) { fullName resume { downloadUrl } } }", json!({ "id": ada.user_id }))
        .await;
    let url = seen.data()["user"]["resume"]["downloadUrl"].as_str().expect("downloadUrl").to_string();
    assert_eq!(download(&url).await, (StatusCode::OK, DOCX.to_vec()));

    // Another user's upload is NOT_FOUND; signed out, nothing at all.
    let stolen = mallory
        .run("mutation($id: ID!) { attachResume(fileId: $id) { id } }", json!({ "id": upload["file"]["id"] }))
        .await;
    assert_eq!(stolen.error_code(), "NOT_FOUND", "{}", stolen.body);
    let anonymous = system.gql.run("mutation { removeResume { id } }", json!({})).await;
    assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");

    // An executable under a PDF name is refused through the router too.
    let mut elf = b"\x7fELF".to_vec();
    elf.resize(PDF.len(), 0);
    let refused = ada_client
        .run(
            "mutation($n: String!, $s: Int!) { createResumeUpload(fileName: $n, contentType: \"application/pdf\", sizeBytes: $s) { uploadUrl file { id } } }",
            json!({ "n": "cv.pdf", "s": elf.len() }),
        )
        .await;
    let fake = refused.data()["createResumeUpload"].clone();
    let fake_url = fake["uploadUrl"].as_str().unwrap();
    let put =
        reqwest::Client::new().put(fake_url).header("content-type", "application/pdf").body(elf).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let attached = ada_client
        .run("mutation($id: ID!) { attachResume(fileId: $id) { id } }", json!({ "id": fake["file"]["id"] }))
        .await;
    assert_eq!((attached.error_code(), attached.error_field()), ("BAD_USER_INPUT", Some("fileId")));

    // Removed: null on the profile, and the URL handed out before is dead.
    let removed = ada_client.run("mutation { removeResume { id resume { id } } }", json!({})).await;
    assert_eq!(removed.data()["removeResume"], json!({ "id": ada.user_id, "resume": null }));
    assert_eq!(download(&url).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_on_the_local_backend_works_through_the_router() {
    let system = System::start().await;
    a_resume_goes_up_and_is_seen_and_downloaded_by_another_user(&system).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_on_s3_works_through_the_router() {
    let s3 = S3Server::start().await;
    let system = System::start_with_vars(RouterOptions::default(), &s3.files_vars("e2e-resumes")).await;
    a_resume_goes_up_and_is_seen_and_downloaded_by_another_user(&system).await;
}

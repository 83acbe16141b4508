//! The happy path on the local backend: real PDF, DOCX and DOC files go up
//! through their upload URL, are attached, and come back byte-identical as
//! attachments; attaching again replaces the résumé and deletes the old one.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn real_documents_are_uploaded_attached_and_downloaded_byte_identical() {
    let files = TestFiles::spawn(&[]).await;
    let (ada, client) = files.user("Ada Lovelace").await;
    for (name, content_type, bytes) in
        [("Ada Lovelace.pdf", PDF_TYPE, PDF), ("cv.docx", DOCX_TYPE, DOCX), ("Lebenslauf Müller.doc", DOC_TYPE, DOC)]
    {
        let upload = files.upload(&client, name, content_type, bytes).await;
        assert_eq!(upload["file"]["fileName"], name);
        assert_eq!(upload["file"]["sizeBytes"], bytes.len());
        let attached = attach(&client, &upload).await;
        assert_eq!(attached.data()["attachResume"], json!({ "id": ada.user_id }), "{}", attached.body);

        let resume = files.resume_of(&client, &ada.user_id).await;
        assert_eq!(resume["id"], upload["file"]["id"]);
        assert_eq!(
            (resume["contentType"].as_str(), resume["sizeBytes"].as_u64()),
            (Some(content_type), Some(bytes.len() as u64))
        );
        let (status, headers, body) = files.get(resume["downloadUrl"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, bytes, "{name} came back different");
        assert_eq!(headers["content-type"], content_type);
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment; filename="), "{disposition}");
    }
    let disposition_name = files.resume_of(&client, &ada.user_id).await;
    assert_eq!(disposition_name["fileName"], "Lebenslauf Müller.doc");
}

#[tokio::test]
async fn attaching_replaces_the_previous_resume_and_deletes_its_bytes() {
    let files = TestFiles::spawn(&[]).await;
    let (ada, client) = files.user("Ada Lovelace").await;
    let first = files.upload(&client, "old.pdf", PDF_TYPE, PDF).await;
    assert!(attach(&client, &first).await.errors().is_empty());
    let old_url = files.resume_of(&client, &ada.user_id).await["downloadUrl"].as_str().unwrap().to_string();

    let second = files.upload(&client, "new.docx", DOCX_TYPE, DOCX).await;
    assert!(attach(&client, &second).await.errors().is_empty());
    assert_eq!(files.resume_of(&client, &ada.user_id).await["id"], second["file"]["id"]);
    // The old résumé is gone, its still-signed URL included.
    assert_eq!(files.get(&old_url).await.0, StatusCode::NOT_FOUND);
    // Attaching the same upload twice is harmless.
    assert!(attach(&client, &second).await.errors().is_empty());
    assert_eq!(files.resume_of(&client, &ada.user_id).await["id"], second["file"]["id"]);
}

#[tokio::test]
async fn a_removed_resume_is_null_and_its_url_is_not_found() {
    let files = TestFiles::spawn(&[]).await;
    let (ada, client) = files.user("Ada Lovelace").await;
    let upload = files.upload(&client, "cv.pdf", PDF_TYPE, PDF).await;
    assert!(attach(&client, &upload).await.errors().is_empty());
    let url = files.resume_of(&client, &ada.user_id).await["downloadUrl"].as_str().unwrap().to_string();

    let removed = client.run("mutation { removeResume { id } }", json!({})).await;
    assert_eq!(removed.data()["removeResume"]["id"], ada.user_id.as_str());
    assert_eq!(files.resume_of(&client, &ada.user_id).await, json!(null));
    assert_eq!(files.get(&url).await.0, StatusCode::NOT_FOUND);
    // Removing nothing is no error.
    assert!(client.run("mutation { removeResume { id } }", json!({})).await.errors().is_empty());
}

#[tokio::test]
async fn upload_arguments_are_checked_before_anything_is_stored() {
    let files = TestFiles::spawn(&[("FILES_MAX_BYTES", "1000")]).await;
    let (_, client) = files.user("Ada Lovelace").await;
    for (name, content_type, size, field) in [
        ("cv.pdf", PDF_TYPE, 1001, "sizeBytes"),
        ("cv.pdf", PDF_TYPE, 0, "sizeBytes"),
        ("cv.pdf", PDF_TYPE, -5, "sizeBytes"),
        ("cv.exe", "application/x-msdownload", 10, "contentType"),
        ("cv.html", "text/html", 10, "contentType"),
        ("cv.exe", PDF_TYPE, 10, "fileName"),
        ("", PDF_TYPE, 10, "fileName"),
        ("../../etc/passwd.pdf", PDF_TYPE, 10, "fileName"),
    ] {
        let response = client.run(CREATE, json!({ "n": name, "t": content_type, "s": size })).await;
        assert_eq!((response.error_code(), response.error_field()), ("BAD_USER_INPUT", Some(field)), "{name} {size}");
    }
    let huge_name = format!("{}.pdf", "x".repeat(100_000));
    let response = client.run(CREATE, json!({ "n": huge_name, "t": PDF_TYPE, "s": 10 })).await;
    assert_eq!(response.error_field(), Some("fileName"));
}

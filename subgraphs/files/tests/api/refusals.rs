//! Stored bytes that are not what was declared are refused with
//! BAD_USER_INPUT at attach time, and their object and row are deleted.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn refused(files: &TestFiles, name: &str, content_type: &str, declared: usize, sent: &[u8]) -> String {
    let (ada, client) = files.user("Ada Lovelace").await;
    let upload = create_upload(&client, name, content_type, declared).await;
    let status = files.put(upload["uploadUrl"].as_str().unwrap(), content_type, sent).await;
    assert!(status == StatusCode::OK, "PUT {name}: {status}");
    let response = attach(&client, &upload).await;
    assert_eq!((response.error_code(), response.error_field()), ("BAD_USER_INPUT", Some("fileId")), "{name}");
    assert_eq!(files.resume_of(&client, &ada.user_id).await, json!(null));
    // Refused bytes are gone: attaching again finds no such file.
    assert_eq!(attach(&client, &upload).await.error_code(), "NOT_FOUND", "{name}");
    response.errors()[0]["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn an_executable_renamed_cv_pdf_is_refused() {
    let files = TestFiles::spawn(&[]).await;
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(4096, 0x90);
    let message = refused(&files, "cv.pdf", PDF_TYPE, elf.len(), &elf).await;
    assert!(message.contains("not a PDF"), "{message}");
    let mut mz = b"MZ\x90\0".to_vec();
    mz.resize(2048, 0);
    refused(&files, "cv.doc", DOC_TYPE, mz.len(), &mz).await;
}

#[tokio::test]
async fn a_zip_that_is_not_a_word_document_is_refused() {
    let files = TestFiles::spawn(&[]).await;
    let message = refused(&files, "cv.docx", DOCX_TYPE, NOT_WORD_ZIP.len(), NOT_WORD_ZIP).await;
    assert!(message.contains("not a Word"), "{message}");
}

#[tokio::test]
async fn a_document_of_another_type_than_declared_is_refused() {
    let files = TestFiles::spawn(&[]).await;
    refused(&files, "cv.docx", DOCX_TYPE, PDF.len(), PDF).await;
    refused(&files, "cv.pdf", PDF_TYPE, DOC.len(), DOC).await;
}

#[tokio::test]
async fn fewer_bytes_than_declared_are_refused() {
    let files = TestFiles::spawn(&[]).await;
    let message = refused(&files, "cv.pdf", PDF_TYPE, PDF.len() + 10, PDF).await;
    assert!(message.contains("declared"), "{message}");
}

#[tokio::test]
async fn an_empty_upload_is_refused() {
    let files = TestFiles::spawn(&[]).await;
    let message = refused(&files, "cv.pdf", PDF_TYPE, 10, b"").await;
    assert!(message.contains("empty"), "{message}");
}

#[tokio::test]
async fn bytes_beyond_the_declared_size_are_refused_at_the_put_and_nothing_is_kept() {
    let files = TestFiles::spawn(&[]).await;
    let (_, client) = files.user("Ada Lovelace").await;
    let upload = create_upload(&client, "cv.pdf", PDF_TYPE, PDF.len() - 1).await;
    let url = upload["uploadUrl"].as_str().unwrap();
    assert_eq!(files.put(url, PDF_TYPE, PDF).await, StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed without a length: cut off at the limit, nothing stored.
    let stream =
        futures::stream::iter(PDF.chunks(100).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>());
    let response = files
        .http
        .put(url)
        .header("content-type", PDF_TYPE)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let attached = attach(&client, &upload).await;
    assert_eq!(attached.error_field(), Some("fileId"));
    assert!(attached.errors()[0]["message"].as_str().unwrap().contains("nothing was uploaded"), "{}", attached.body);
}

#[tokio::test]
async fn a_pdf_carrying_javascript_is_refused() {
    let files = TestFiles::spawn(&[]).await;
    let pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\nendobj\nstartxref\n9\n%%EOF\n";
    let message = refused(&files, "cv.pdf", PDF_TYPE, pdf.len(), pdf).await;
    assert!(message.contains("JavaScript"), "{message}");
}

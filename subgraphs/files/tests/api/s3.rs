//! The S3 backend end to end against a real S3-compatible server (s3s-fs,
//! which checks SigV4 signatures): presigned PUT, attach with checks,
//! presigned GET as an attachment, refusals, replacement and removal.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// The URL with one hex digit of its `X-Amz-Signature` changed.
fn tamper(url: &str) -> String {
    let start = url.find("X-Amz-Signature=").expect("a presigned URL") + "X-Amz-Signature=".len();
    let digit = if &url[start..start + 1] == "0" { "1" } else { "0" };
    format!("{}{digit}{}", &url[..start], &url[start + 1..])
}

#[tokio::test]
async fn resumes_go_to_s3_through_presigned_urls_and_come_back_byte_identical() {
    let (files, bucket) = TestFiles::spawn_s3(&[]).await;
    let (ada, client) = files.user("Ada Lovelace").await;
    let upload = create_upload(&client, "cv.pdf", PDF_TYPE, PDF.len()).await;
    let url = upload["uploadUrl"].as_str().unwrap();
    assert!(url.starts_with(&files.s3().endpoint), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    // A tampered signature is refused by the server itself.
    assert_eq!(files.put(&tamper(url), PDF_TYPE, PDF).await, StatusCode::FORBIDDEN);
    assert_eq!(files.put(url, PDF_TYPE, PDF).await, StatusCode::OK);
    assert!(attach(&client, &upload).await.errors().is_empty());

    let resume = files.resume_of(&client, &ada.user_id).await;
    let download = resume["downloadUrl"].as_str().unwrap();
    let (status, headers, body) = files.get(download).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, PDF);
    assert_eq!(headers["content-type"], PDF_TYPE);
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment;"), "{headers:?}");
    assert_eq!(files.get(&tamper(download)).await.0, StatusCode::FORBIDDEN);

    // Replaced: the old object is deleted from the bucket.
    let old_key = format!("resumes/{}", upload["file"]["id"].as_str().unwrap());
    assert!(files.s3().object_path(bucket, &old_key).exists());
    let docx = files.upload(&client, "cv.docx", DOCX_TYPE, DOCX).await;
    assert!(attach(&client, &docx).await.errors().is_empty());
    assert!(!files.s3().object_path(bucket, &old_key).exists(), "the replaced résumé is deleted");
    assert_eq!(files.get(download).await.0, StatusCode::NOT_FOUND);

    assert!(client.run("mutation { removeResume { id } }", json!({})).await.errors().is_empty());
    assert_eq!(files.resume_of(&client, &ada.user_id).await, json!(null));
}

#[tokio::test]
async fn bytes_in_s3_that_are_not_what_was_declared_are_refused_and_deleted() {
    let (files, bucket) = TestFiles::spawn_s3(&[]).await;
    let (_, client) = files.user("Ada Lovelace").await;
    // An executable under a PDF name: stored by S3, refused at attach, deleted.
    let mut elf = b"\x7fELF".to_vec();
    elf.resize(PDF.len(), 0);
    let upload = create_upload(&client, "cv.pdf", PDF_TYPE, PDF.len()).await;
    assert_eq!(files.put(upload["uploadUrl"].as_str().unwrap(), PDF_TYPE, &elf).await, StatusCode::OK);
    let response = attach(&client, &upload).await;
    assert_eq!((response.error_code(), response.error_field()), ("BAD_USER_INPUT", Some("fileId")));
    let id = upload["file"]["id"].as_str().unwrap();
    for key in [format!("uploads/{id}"), format!("resumes/{id}")] {
        assert!(!files.s3().object_path(bucket, &key).exists(), "{key} was not deleted");
    }

    // More (or fewer) bytes than declared: the signed length makes S3 refuse the PUT.
    let upload = create_upload(&client, "cv.pdf", PDF_TYPE, PDF.len()).await;
    let url = upload["uploadUrl"].as_str().unwrap();
    assert!(url.contains("content-length"), "the length is signed: {url}");
    let mut longer = PDF.to_vec();
    longer.extend_from_slice(b"trailing bytes");
    assert_eq!(files.put(url, PDF_TYPE, &longer).await, StatusCode::FORBIDDEN);
    assert_eq!(files.put(url, PDF_TYPE, &PDF[..100]).await, StatusCode::FORBIDDEN);
    let response = attach(&client, &upload).await;
    assert_eq!(response.error_field(), Some("fileId"));
    assert!(response.errors()[0]["message"].as_str().unwrap().contains("nothing was uploaded"));
    assert!(!files.s3().object_path(bucket, &format!("uploads/{}", upload["file"]["id"].as_str().unwrap())).exists());
}

#[tokio::test]
async fn presigned_urls_expire() {
    let (files, _) = TestFiles::spawn_s3(&SHORT_URLS).await;
    urls_expire(&files).await;
}

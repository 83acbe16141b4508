//! Upload and download URLs of the local backend: signed, expiring, single
//! use for uploads; anything altered, expired or reused is refused.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

fn tamper(url: &str) -> String {
    // Flip the signature's last hex digit.
    let last = url.chars().last().unwrap();
    let flipped = if last == '0' { '1' } else { '0' };
    format!("{}{flipped}", &url[..url.len() - 1])
}

#[tokio::test]
async fn an_upload_url_takes_one_put_and_refuses_tampering() {
    let files = TestFiles::spawn(&[]).await;
    let (_, client) = files.user("Ada Lovelace").await;
    let upload = create_upload(&client, "cv.pdf", PDF_TYPE, PDF.len()).await;
    let url = upload["uploadUrl"].as_str().unwrap();
    assert_eq!(files.put(&tamper(url), PDF_TYPE, PDF).await, StatusCode::FORBIDDEN);
    let unsigned = url.split('?').next().unwrap();
    assert_eq!(files.put(unsigned, PDF_TYPE, PDF).await, StatusCode::FORBIDDEN);
    // A download URL for the same file does not accept uploads.
    let as_download = url.replace("/uploads/", "/downloads/");
    assert_eq!(files.get(&as_download).await.0, StatusCode::FORBIDDEN);

    assert_eq!(files.put(url, PDF_TYPE, PDF).await, StatusCode::OK);
    assert_eq!(files.put(url, PDF_TYPE, PDF).await, StatusCode::CONFLICT);
    assert!(attach(&client, &upload).await.errors().is_empty());
}

#[tokio::test]
async fn upload_and_download_urls_expire() {
    let files = TestFiles::spawn(&[("FILES_UPLOAD_URL_SECS", "2"), ("FILES_DOWNLOAD_URL_SECS", "2")]).await;
    let (ada, client) = files.user("Ada Lovelace").await;
    let late = create_upload(&client, "late.pdf", PDF_TYPE, PDF.len()).await;
    let upload = files.upload(&client, "cv.pdf", PDF_TYPE, PDF).await;
    assert!(attach(&client, &upload).await.errors().is_empty());
    let download = files.resume_of(&client, &ada.user_id).await["downloadUrl"].as_str().unwrap().to_string();
    assert_eq!(files.get(&download).await.0, StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(files.put(late["uploadUrl"].as_str().unwrap(), PDF_TYPE, PDF).await, StatusCode::FORBIDDEN);
    assert_eq!(files.get(&download).await.0, StatusCode::FORBIDDEN);
    assert_eq!(files.get(&tamper(&download)).await.0, StatusCode::FORBIDDEN);
    // A fresh URL works again.
    let fresh = files.resume_of(&client, &ada.user_id).await["downloadUrl"].as_str().unwrap().to_string();
    let (status, _, body) = files.get(&fresh).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, PDF));
}

#[tokio::test]
async fn the_byte_routes_are_rate_limited_per_address() {
    let files = TestFiles::spawn(&[("FILES_RATE_LIMIT_PER_SECOND", "1"), ("FILES_RATE_LIMIT_BURST", "5")]).await;
    let url =
        format!("{}/downloads/00000000-0000-0000-0000-000000000000?expires=1&signature=00", files.stack["files"].url());
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(files.get(&url).await.0);
    }
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(limited >= 2, "{statuses:?}");
    assert_eq!(statuses[0], StatusCode::FORBIDDEN);
}

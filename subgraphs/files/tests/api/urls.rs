//! Upload and download URLs of the local backend: signed, expiring, single
//! use for uploads; anything altered, expired or reused is refused.

use std::time::Duration;

use futures::StreamExt;
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
    let files = TestFiles::spawn(&SHORT_URLS).await;
    let (download, ada, client) = urls_expire(&files).await;
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

#[tokio::test]
async fn browsers_at_the_apps_origin_may_put_and_get() {
    let files = TestFiles::spawn(&[("CORS_ALLOW_ORIGINS", "https://app.example")]).await;
    let (_, client) = files.user("Ada Lovelace").await;
    let upload = create_upload(&client, "cv.pdf", PDF_TYPE, PDF.len()).await;
    let preflight = |origin: &'static str| {
        files
            .http
            .request(reqwest::Method::OPTIONS, upload["uploadUrl"].as_str().unwrap())
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example");
    assert!(allowed.headers()["access-control-allow-methods"].to_str().unwrap().contains("PUT"));
    let foreign = preflight("https://evil.example").await.unwrap();
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn an_interrupted_put_leaves_nothing_and_the_url_can_be_used_again() {
    let files = TestFiles::spawn(&[]).await;
    let (_, client) = files.user("Ada Lovelace").await;
    let upload = create_upload(&client, "cv.pdf", PDF_TYPE, PDF.len()).await;
    let url = upload["uploadUrl"].as_str().unwrap().to_string();
    // Half the bytes, then the client goes away.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    sender.send(Ok(PDF[..PDF.len() / 2].to_vec())).await.unwrap();
    let stream = futures::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|item| (item, r)) });
    let request = files.http.put(&url).header("content-type", PDF_TYPE).body(reqwest::Body::wrap_stream(stream)).send();
    let abandoned = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(300)).await;
    abandoned.abort();
    drop(sender);

    let partials = data_dir(&files).join("partial");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = std::fs::read_dir(&partials).unwrap().count();
        let retried = if left == 0 { files.put(&url, PDF_TYPE, PDF).await } else { StatusCode::CONFLICT };
        if retried == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{left} partial files left, retry answered {retried}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(attach(&client, &upload).await.errors().is_empty());
}

#[tokio::test]
async fn a_put_still_trickling_when_its_url_expires_is_cut_off() {
    let files = TestFiles::spawn(&[("FILES_UPLOAD_URL_SECS", "2")]).await;
    let (_, client) = files.user("Ada Lovelace").await;
    let upload = create_upload(&client, "cv.pdf", PDF_TYPE, PDF.len()).await;
    let chunks: Vec<Vec<u8>> = PDF.chunks(PDF.len() / 8 + 1).map(<[u8]>::to_vec).collect();
    let stream = futures::stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok::<_, std::io::Error>(chunk)
    });
    let response = files
        .http
        .put(upload["uploadUrl"].as_str().unwrap())
        .header("content-type", PDF_TYPE)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    let status = response.map(|r| r.status()).unwrap_or(StatusCode::REQUEST_TIMEOUT);
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(std::fs::read_dir(data_dir(&files).join("partial")).unwrap().count(), 0);
    assert_eq!(attach(&client, &upload).await.error_field(), Some("fileId"));
}

#[tokio::test]
async fn one_user_holds_a_bounded_number_of_open_uploads() {
    let files = TestFiles::spawn(&[("FILES_MAX_PENDING_UPLOADS", "3")]).await;
    let (_, client) = files.user("Ada Lovelace").await;
    let aliased = "mutation { a: createResumeUpload(fileName: \"a.pdf\", contentType: \"application/pdf\", sizeBytes: 10) { expiresAt } \
        b: createResumeUpload(fileName: \"b.pdf\", contentType: \"application/pdf\", sizeBytes: 10) { expiresAt } \
        c: createResumeUpload(fileName: \"c.pdf\", contentType: \"application/pdf\", sizeBytes: 10) { expiresAt } \
        d: createResumeUpload(fileName: \"d.pdf\", contentType: \"application/pdf\", sizeBytes: 10) { expiresAt } \
        e: createResumeUpload(fileName: \"e.pdf\", contentType: \"application/pdf\", sizeBytes: 10) { expiresAt } }";
    let response = client.run(aliased, serde_json::json!({})).await;
    let refused: Vec<_> = response.errors().iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("")).collect();
    assert_eq!(refused, ["RATE_LIMITED", "RATE_LIMITED"], "{}", response.body);
    assert!(response.errors()[0]["extensions"]["retryAfter"].as_u64().unwrap() >= 1);
    // Another user has a budget of their own.
    let (_, grace) = files.user("Grace Hopper").await;
    create_upload(&grace, "cv.pdf", PDF_TYPE, 10).await;
}

#[tokio::test]
async fn concurrent_attaches_by_one_user_leave_exactly_one_resume() {
    let files = TestFiles::spawn(&[]).await;
    let (ada, client) = files.user("Ada Lovelace").await;
    let mut uploads = Vec::new();
    for name in ["a.pdf", "b.pdf", "c.pdf", "d.pdf"] {
        uploads.push(files.upload(&client, name, PDF_TYPE, PDF).await);
    }
    let attached = futures::future::join_all(uploads.iter().map(|upload| attach(&client, upload))).await;
    for response in &attached {
        assert!(response.errors().is_empty(), "{}", response.body);
    }
    let resume = files.resume_of(&client, &ada.user_id).await;
    assert!(uploads.iter().any(|u| u["file"]["id"] == resume["id"]));
    let stored = std::fs::read_dir(data_dir(&files).join("resumes")).unwrap().count();
    assert_eq!(stored, 1, "the three replaced résumés are deleted");
}

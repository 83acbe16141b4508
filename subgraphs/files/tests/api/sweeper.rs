//! Uploads never attached are swept after their window (rows and objects),
//! by sweepers that may run on several replicas at once.

use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;

use crate::helpers::*;

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

async fn rows(files: &TestFiles) -> i64 {
    let url = files.stack.env.database("files").url();
    let mut conn = AsyncPgConnection::establish(&url).await.expect("files database");
    diesel::sql_query("SELECT count(*) AS count FROM files").get_result::<Count>(&mut conn).await.unwrap().count
}

#[tokio::test]
async fn uploads_never_attached_are_swept_with_their_objects_and_attached_ones_stay() {
    let vars = [
        ("FILES_UPLOAD_URL_SECS", "1"),
        ("FILES_SWEEP_GRACE_SECS", "0"),
        ("FILES_SWEEP_INTERVAL_SECS", "1"),
        ("FILES_MAX_PENDING_UPLOADS", "10"),
    ];
    let files = TestFiles::spawn(&vars).await;
    let (ada_account, ada) = files.user("Ada Lovelace").await;
    let kept = files.upload(&ada, "kept.pdf", PDF_TYPE, PDF).await;
    assert!(attach(&ada, &kept).await.errors().is_empty());
    let mut abandoned = Vec::new();
    for n in 0..5 {
        abandoned.push(files.upload(&ada, &format!("draft{n}.pdf"), PDF_TYPE, PDF).await);
    }
    let _never_sent = create_upload(&ada, "never.pdf", PDF_TYPE, PDF.len()).await;
    assert_eq!(rows(&files).await, 7);

    let deadline = Instant::now() + Duration::from_secs(15);
    while rows(&files).await > 1 {
        assert!(Instant::now() < deadline, "uploads were not swept: {} rows", rows(&files).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for upload in &abandoned {
        assert_eq!(attach(&ada, upload).await.error_code(), "NOT_FOUND");
    }
    let uploads = std::fs::read_dir(data_dir(&files).join("uploads")).unwrap().count();
    assert_eq!(uploads, 0, "objects of swept uploads are deleted");
    let resume = files.resume_of(&ada, &ada_account.user_id).await;
    assert_eq!(resume["id"], kept["file"]["id"]);
    assert_eq!(files.get(resume["downloadUrl"].as_str().unwrap()).await.0, StatusCode::OK);
}

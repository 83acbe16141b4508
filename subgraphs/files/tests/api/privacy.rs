//! Uploads and attaching are the owner's alone; résumés are part of
//! profiles, so other signed-in users see and download them, anonymous
//! callers see none.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn another_users_file_is_not_found_and_signed_out_callers_are_unauthenticated() {
    let files = TestFiles::spawn(&[]).await;
    let (_, ada) = files.user("Ada Lovelace").await;
    let (mallory_account, mallory) = files.user("Mallory").await;
    let upload = files.upload(&ada, "cv.pdf", PDF_TYPE, PDF).await;

    let stolen = attach(&mallory, &upload).await;
    assert_eq!(stolen.error_code(), "NOT_FOUND", "{}", stolen.body);
    assert_eq!(files.resume_of(&mallory, &mallory_account.user_id).await, json!(null));
    // Her own attach still works afterwards.
    assert!(attach(&ada, &upload).await.errors().is_empty());

    for (query, variables) in [
        (CREATE, json!({ "n": "cv.pdf", "t": PDF_TYPE, "s": 10 })),
        (ATTACH, json!({ "id": upload["file"]["id"] })),
        ("mutation { removeResume { id } }", json!({})),
    ] {
        assert_eq!(files.anonymous.run(query, variables).await.error_code(), "UNAUTHENTICATED", "{query}");
    }
    let bad_id = ada.run(ATTACH, json!({ "id": "not-a-uuid" })).await;
    assert_eq!((bad_id.error_code(), bad_id.error_field()), ("BAD_USER_INPUT", Some("fileId")));
    let unknown = ada.run(ATTACH, json!({ "id": uuid_v4() })).await;
    assert_eq!(unknown.error_code(), "NOT_FOUND");
}

fn uuid_v4() -> String {
    "6f1c2a9e-3b7d-4c8e-9a1f-2d3e4f5a6b7c".into()
}

#[tokio::test]
async fn other_signed_in_users_see_and_download_a_resume_and_anonymous_callers_do_not() {
    let files = TestFiles::spawn(&[]).await;
    let (ada_account, ada) = files.user("Ada Lovelace").await;
    let (_, grace) = files.user("Grace Hopper").await;
    let upload = files.upload(&ada, "cv.docx", DOCX_TYPE, DOCX).await;
    assert!(attach(&ada, &upload).await.errors().is_empty());

    let seen = files.resume_of(&grace, &ada_account.user_id).await;
    assert_eq!(seen["fileName"], "cv.docx");
    let (status, _, body) = files.get(seen["downloadUrl"].as_str().unwrap()).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, DOCX));
    assert_eq!(files.resume_of(&files.anonymous, &ada_account.user_id).await, json!(null));
    // Grace cannot remove Ada's: removeResume is her own.
    assert!(grace.run("mutation { removeResume { id } }", json!({})).await.errors().is_empty());
    assert_eq!(files.resume_of(&grace, &ada_account.user_id).await["id"], upload["file"]["id"]);
}

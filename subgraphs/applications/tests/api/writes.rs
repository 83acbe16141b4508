use serde_json::json;

use crate::helpers::{FIELDS, TestApps, create};

#[tokio::test]
async fn create_and_read_back_an_application() {
    let app = TestApps::spawn().await;
    let (_, me) = app.user("Ada").await;

    let created = create(
        &me,
        json!({
            "company": " Acme ", "position": "Backend Engineer", "location": "Berlin",
            "salary": { "min": 70000, "max": 90000, "currency": "eur", "period": "YEAR" },
            "jobDescription": "Build things.\nIn Rust.", "jobUrl": "https://jobs.acme.example/42",
        }),
    )
    .await;
    assert_eq!(created["company"], "Acme");
    assert_eq!(created["status"], "SAVED");
    assert_eq!(created["salary"], json!({ "min": 70000, "max": 90000, "currency": "EUR", "period": "YEAR" }));
    assert_eq!(created["appliedAt"], json!(null));
    assert_eq!(created["statusHistory"].as_array().unwrap().len(), 1);
    assert_eq!(created["statusHistory"][0]["from"], json!(null));
    assert_eq!(created["statusHistory"][0]["to"], "SAVED");

    let read = me
        .run(&format!("query($id: ID!) {{ application(id: $id) {{ {FIELDS} }} }}"), json!({ "id": created["id"] }))
        .await;
    assert_eq!(read.data()["application"], created);
}

#[tokio::test]
async fn created_as_applied_sets_applied_at() {
    let app = TestApps::spawn().await;
    let (_, me) = app.user("Ada").await;
    let created = create(&me, json!({ "company": "Acme", "position": "SRE", "status": "APPLIED" })).await;
    assert_eq!(created["appliedAt"], created["createdAt"]);
    assert_eq!(created["statusHistory"][0]["to"], "APPLIED");
}

#[tokio::test]
async fn status_changes_are_recorded_with_notes_and_applied_at_is_the_first_application() {
    let app = TestApps::spawn().await;
    let (_, me) = app.user("Ada").await;
    let id = create(&me, json!({ "company": "Acme", "position": "SRE" })).await["id"].clone();
    let change = "mutation($id: ID!, $s: ApplicationStatus!, $n: String) { changeApplicationStatus(id: $id, status: $s, note: $n) { status appliedAt statusHistory { from to note } } }";

    let applied = me.run(change, json!({ "id": id, "s": "APPLIED", "n": "Sent via referral" })).await.data()["changeApplicationStatus"].clone();
    let first_applied_at = applied["appliedAt"].clone();
    assert!(first_applied_at.is_string());
    me.run(change, json!({ "id": id, "s": "INTERVIEW" })).await.data();
    me.run(change, json!({ "id": id, "s": "APPLIED" })).await.data();
    let again = me.run(change, json!({ "id": id, "s": "APPLIED" })).await.data()["changeApplicationStatus"].clone();

    assert_eq!(again["appliedAt"], first_applied_at, "appliedAt is the first time");
    assert_eq!(
        again["statusHistory"],
        json!([
            { "from": null, "to": "SAVED", "note": null },
            { "from": "SAVED", "to": "APPLIED", "note": "Sent via referral" },
            { "from": "APPLIED", "to": "INTERVIEW", "note": null },
            { "from": "INTERVIEW", "to": "APPLIED", "note": null },
        ]),
        "a change to the current status is a no-op"
    );
}

#[tokio::test]
async fn update_keeps_clears_and_sets() {
    let app = TestApps::spawn().await;
    let (_, me) = app.user("Ada").await;
    let created = create(
        &me,
        json!({ "company": "Acme", "position": "SRE", "location": "Paris", "jobUrl": "https://a.example" }),
    )
    .await;
    let update = format!(
        "mutation($id: ID!, $i: UpdateApplicationInput!) {{ updateApplication(id: $id, input: $i) {{ {FIELDS} }} }}"
    );

    let updated = me
        .run(&update, json!({ "id": created["id"], "i": { "position": "Staff SRE", "location": null, "salary": { "max": 100, "currency": "USD", "period": "HOUR" } } }))
        .await
        .data()["updateApplication"]
        .clone();
    assert_eq!(updated["company"], "Acme");
    assert_eq!(updated["position"], "Staff SRE");
    assert_eq!(updated["location"], json!(null));
    assert_eq!(updated["jobUrl"], "https://a.example/");
    assert_eq!(updated["salary"], json!({ "min": null, "max": 100, "currency": "USD", "period": "HOUR" }));
    assert!(updated["updatedAt"].as_str().unwrap() > created["updatedAt"].as_str().unwrap());

    let cleared = me.run(&update, json!({ "id": created["id"], "i": { "company": null } })).await;
    assert_eq!(cleared.error_field(), Some("input.company"));
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let app = TestApps::spawn().await;
    let (_, me) = app.user("Ada").await;
    let query = "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }";
    let cases = [
        (json!({ "company": "", "position": "SRE" }), "input.company"),
        (json!({ "company": "Acme", "position": "x".repeat(201) }), "input.position"),
        (
            json!({ "company": "Acme", "position": "SRE", "salary": { "min": 10, "max": 5, "currency": "EUR", "period": "YEAR" } }),
            "input.salary.max",
        ),
        (
            json!({ "company": "Acme", "position": "SRE", "salary": { "min": -1, "currency": "EUR", "period": "YEAR" } }),
            "input.salary.min",
        ),
        (
            json!({ "company": "Acme", "position": "SRE", "salary": { "min": 1, "currency": "ABC", "period": "YEAR" } }),
            "input.salary.currency",
        ),
        (json!({ "company": "Acme", "position": "SRE", "jobUrl": "ftp://jobs.example" }), "input.jobUrl"),
        (json!({ "company": "Acme", "position": "SRE", "jobDescription": "x".repeat(50_001) }), "input.jobDescription"),
    ];
    for (input, field) in cases {
        let response = me.run(query, json!({ "i": input })).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{field}");
        assert_eq!(response.error_field(), Some(field));
    }
    let long_description =
        create(&me, json!({ "company": "Acme", "position": "SRE", "jobDescription": "é".repeat(50_000) })).await;
    assert_eq!(long_description["jobDescription"].as_str().unwrap().chars().count(), 50_000, "stored whole");
}

#[tokio::test]
async fn delete_returns_the_id_and_the_application_is_gone() {
    let app = TestApps::spawn().await;
    let (_, me) = app.user("Ada").await;
    let id = create(&me, json!({ "company": "Acme", "position": "SRE" })).await["id"].clone();

    let deleted = me.run("mutation($id: ID!) { deleteApplication(id: $id) }", json!({ "id": id })).await;
    assert_eq!(deleted.data()["deleteApplication"], id);
    let read = me.run("query($id: ID!) { application(id: $id) { id } }", json!({ "id": id })).await;
    assert_eq!(read.error_code(), "NOT_FOUND");
    let again = me.run("mutation($id: ID!) { deleteApplication(id: $id) }", json!({ "id": id })).await;
    assert_eq!(again.error_code(), "NOT_FOUND");
}

#[tokio::test]
async fn a_stored_status_this_version_does_not_know_is_an_internal_error_not_a_panic() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let app = TestApps::spawn().await;
    let (_, me) = app.user("Ada").await;
    let id = create(&me, json!({ "company": "Acme", "position": "SRE" })).await["id"].as_str().unwrap().to_string();
    // A history entry written by a newer version of the service.
    let mut conn = AsyncPgConnection::establish(&app.env.database("applications").url()).await.unwrap();
    diesel::sql_query(format!(
        "INSERT INTO status_changes (application_id, from_status, to_status, changed_at) \
         VALUES ('{id}', 'SAVED', 'ARCHIVED', now())"
    ))
    .execute(&mut conn)
    .await
    .unwrap();

    let history =
        me.run("query($id: ID!) { application(id: $id) { statusHistory { to } } }", json!({ "id": id })).await;
    let moved = me
        .run("mutation($id: ID!) { changeApplicationStatus(id: $id, status: APPLIED) { status } }", json!({ "id": id }))
        .await;
    let still_served = me.run("query($id: ID!) { application(id: $id) { company status } }", json!({ "id": id })).await;

    for response in [&history, &moved] {
        assert_eq!(response.error_code(), "INTERNAL");
        assert_eq!(response.errors()[0]["message"], "internal error", "the cause stays in the logs");
    }
    assert_eq!(still_served.data()["application"], json!({ "company": "Acme", "status": "SAVED" }), "nothing changed");
}

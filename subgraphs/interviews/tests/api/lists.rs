use serde_json::{Value, json};

use crate::helpers::TestInterviews;

const LIST: &str = "query($f: InterviewFilter, $first: Int, $after: String) { interviews(filter: $f, first: $first, after: $after) { totalCount edges { node { company scheduledAt type cancelled } } pageInfo { hasNextPage endCursor } } }";

fn companies(list: &Value) -> Vec<String> {
    list["edges"].as_array().unwrap().iter().map(|e| e["node"]["company"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn soonest_first_filtered_by_type_and_half_open_range() {
    let app = TestInterviews::spawn().await;
    let ada = app.user("Ada").await;
    for (company, at, kind) in [
        ("C", "2027-03-03T09:00:00Z", "ONSITE"),
        ("A", "2027-03-01T09:00:00Z", "PHONE"),
        ("B", "2027-03-02T09:00:00Z", "ONLINE"),
        ("D", "2027-03-04T09:00:00Z", "PHONE"),
    ] {
        ada.schedule(
            json!({ "company": company, "position": "SRE", "scheduledAt": at, "timeZone": "UTC", "type": kind }),
        )
        .await;
    }
    let all = ada.interviews.run(LIST, json!({})).await;
    assert_eq!(companies(&all.data()["interviews"]), ["A", "B", "C", "D"]);

    let phones = ada.interviews.run(LIST, json!({ "f": { "type": ["PHONE"] } })).await;
    assert_eq!(companies(&phones.data()["interviews"]), ["A", "D"]);
    // [from, to): the 2nd is in, the 4th (== to) is out.
    let range = ada
        .interviews
        .run(LIST, json!({ "f": { "from": "2027-03-02T09:00:00Z", "to": "2027-03-04T09:00:00Z" } }))
        .await;
    assert_eq!(companies(&range.data()["interviews"]), ["B", "C"]);
    let backwards = ada
        .interviews
        .run(LIST, json!({ "f": { "from": "2027-03-04T00:00:00Z", "to": "2027-03-01T00:00:00Z" } }))
        .await;
    assert_eq!(backwards.error_field(), Some("filter.to"));
}

#[tokio::test]
async fn cancelled_interviews_are_hidden_unless_asked_for_and_pages_follow() {
    let app = TestInterviews::spawn().await;
    let ada = app.user("Ada").await;
    let mut ids = Vec::new();
    for day in 1..=5 {
        let interview = ada.schedule(json!({ "company": format!("Co {day}"), "position": "SRE", "scheduledAt": format!("2027-03-0{day}T09:00:00Z"), "timeZone": "UTC", "type": "PHONE" })).await;
        ids.push(interview["id"].clone());
    }
    ada.interviews.run("mutation($id: ID!) { cancelInterview(id: $id) { id } }", json!({ "id": ids[1] })).await.data();

    let visible = ada.interviews.run(LIST, json!({})).await;
    assert_eq!(visible.data()["interviews"]["totalCount"], 4);
    let everything = ada.interviews.run(LIST, json!({ "f": { "includeCancelled": true } })).await;
    assert_eq!(everything.data()["interviews"]["totalCount"], 5);

    let first = ada.interviews.run(LIST, json!({ "first": 2 })).await;
    let page = &first.data()["interviews"];
    assert_eq!(companies(page), ["Co 1", "Co 3"]);
    let second = ada.interviews.run(LIST, json!({ "first": 2, "after": page["pageInfo"]["endCursor"] })).await;
    assert_eq!(companies(&second.data()["interviews"]), ["Co 4", "Co 5"]);
    assert_eq!(second.data()["interviews"]["pageInfo"]["hasNextPage"], false);
}

// Tables created by migrations/events, present in every service's database.

diesel::table! {
    outbox (id) {
        id -> Uuid,
        seq -> Int8,
        event_type -> Text,
        envelope -> Jsonb,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        aggregate_id -> Uuid,
        aggregate_version -> Int8,
        attempts -> Int4,
        failed_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    processed_events (consumer, event_id) {
        consumer -> Text,
        event_id -> Uuid,
        processed_at -> Timestamptz,
    }
}

-- How many times each event was applied by the test consumer.
CREATE TABLE applied (event_id uuid PRIMARY KEY, times int NOT NULL);

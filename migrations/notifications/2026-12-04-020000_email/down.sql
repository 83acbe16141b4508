ALTER TABLE deliveries DROP COLUMN lease_until, DROP COLUMN attempted_at, DROP COLUMN next_attempt_at;
DROP TABLE recipients;

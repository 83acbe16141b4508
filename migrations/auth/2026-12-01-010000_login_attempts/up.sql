-- Login throttling as one row per e-mail (known or not). An attempt is
-- reserved before its password is checked, by one INSERT … ON CONFLICT DO
-- UPDATE that counts it only while the window has room: the row lock makes
-- concurrent attempts queue on the count instead of all reading the same one.
-- A successful login deletes the row.
DROP TABLE login_failures;
CREATE TABLE login_attempts (
    email        text PRIMARY KEY,
    attempts     integer NOT NULL,
    window_start timestamptz NOT NULL
);

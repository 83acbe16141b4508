DROP TABLE status_changes;
DROP TABLE applications;

DROP TABLE notifications;
DROP TABLE deliveries;
DROP TABLE interviews;
DROP TABLE preferences;

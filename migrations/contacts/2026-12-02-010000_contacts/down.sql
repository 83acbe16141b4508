DROP TABLE known_users;
DROP TABLE contacts;

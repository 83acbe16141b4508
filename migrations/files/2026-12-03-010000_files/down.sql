DROP TABLE url_signing_key;
DROP TABLE files;

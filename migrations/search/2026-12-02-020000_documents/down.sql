DROP TABLE lexicon;
DROP TABLE documents;
DROP FUNCTION search_normalize(text);

DROP TABLE saved_profiles;
DROP TABLE profiles;

DROP TABLE user_counters; DROP TABLE interview_facts; DROP TABLE application_facts;

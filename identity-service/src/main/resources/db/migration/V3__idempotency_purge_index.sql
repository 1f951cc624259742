-- The periodic purge of old idempotency records deletes by age.
CREATE INDEX idempotency_records_create_time ON identity.idempotency_records (create_time);

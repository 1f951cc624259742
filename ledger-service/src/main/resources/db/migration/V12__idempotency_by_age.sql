-- The index the idempotency purge finds its oldest rows by (store.IdempotencyRetention): request_ids
-- are remembered for a retention (agentspend.ledger.idempotency-retention), no longer for good.
--
-- Built CONCURRENTLY, outside a transaction (Flyway runs a script of only such statements without
-- one): a plain CREATE INDEX would block every payment's insert while it reads the whole table. The
-- DROP first clears an invalid index a failed earlier attempt may have left behind.
--
-- create_time is the inserting transaction's start, so new rows land at the index's right edge: one
-- more index entry per payment, without the page splits all over the index that a random key costs.
DROP INDEX CONCURRENTLY IF EXISTS ledger.idempotency_create_time;
CREATE INDEX CONCURRENTLY idempotency_create_time ON ledger.idempotency (create_time);

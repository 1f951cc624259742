-- The index the retention purge finds old tasks by (store.RetentionPurge): a task is kept for
-- agentspend.analytics.retention.task-days after it completed or, never completed, after its last
-- payment. Tasks without either time (a task row made by a refund alone) are kept.
--
-- Built CONCURRENTLY, outside a transaction (Flyway runs a script of only such statements without
-- one): a plain CREATE INDEX would hold up the consumer's task writes while it reads the table. The
-- DROP first clears an invalid index a failed earlier attempt may have left behind.
DROP INDEX CONCURRENTLY IF EXISTS analytics.task_age;
CREATE INDEX CONCURRENTLY task_age ON analytics.task ((COALESCE(completed_time, last_payment_time)));

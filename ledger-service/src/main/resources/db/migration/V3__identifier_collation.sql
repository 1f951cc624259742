-- Identifiers and buckets compare byte by byte (COLLATE "C").
--
-- Why: every payment looks up and inserts index entries keyed by text (agent, caller, request,
-- entry, account, counter ids). Under the database's default collation each comparison goes through
-- the C library's strcoll (perf during the benchmark's fleet phase: pg_strncoll_libc and its helpers,
-- about 6% of the ledger's PostgreSQL time with C.UTF-8; locales such as en_US.UTF-8 cost more).
-- The values are ASCII identifiers that are only ever compared for equality or ordered for lock
-- order, so "C" changes no result. Only the indexes are rebuilt (text to text is no table rewrite).

-- the view reads columns whose type changes: dropped here, created again at the end
DROP VIEW ledger.every_counter;
ALTER TABLE ledger.accounts ALTER COLUMN account_id TYPE text COLLATE "C";
ALTER TABLE ledger.agent_state ALTER COLUMN agent_id TYPE text COLLATE "C";
ALTER TABLE ledger.team_state ALTER COLUMN team_id TYPE text COLLATE "C";
ALTER TABLE ledger.counters
    ALTER COLUMN scope_id TYPE text COLLATE "C",
    ALTER COLUMN bucket TYPE text COLLATE "C",
    ALTER COLUMN tool TYPE text COLLATE "C";
ALTER TABLE ledger.window_counters
    ALTER COLUMN scope_id TYPE text COLLATE "C",
    ALTER COLUMN tool TYPE text COLLATE "C",
    ALTER COLUMN hour_bucket TYPE text COLLATE "C",
    ALTER COLUMN day_bucket TYPE text COLLATE "C",
    ALTER COLUMN week_bucket TYPE text COLLATE "C",
    ALTER COLUMN month_bucket TYPE text COLLATE "C";
ALTER TABLE ledger.entries
    ALTER COLUMN entry_id TYPE text COLLATE "C",
    ALTER COLUMN agent_id TYPE text COLLATE "C",
    ALTER COLUMN team_id TYPE text COLLATE "C",
    ALTER COLUMN reversed_entry_id TYPE text COLLATE "C";
ALTER TABLE ledger.postings
    ALTER COLUMN entry_id TYPE text COLLATE "C",
    ALTER COLUMN account_id TYPE text COLLATE "C";
ALTER TABLE ledger.holds
    ALTER COLUMN hold_id TYPE text COLLATE "C",
    ALTER COLUMN agent_id TYPE text COLLATE "C",
    ALTER COLUMN team_id TYPE text COLLATE "C";
ALTER TABLE ledger.tasks
    ALTER COLUMN agent_id TYPE text COLLATE "C",
    ALTER COLUMN task_id TYPE text COLLATE "C";
ALTER TABLE ledger.idempotency
    ALTER COLUMN caller TYPE text COLLATE "C",
    ALTER COLUMN request_id TYPE text COLLATE "C";

CREATE VIEW ledger.every_counter AS
SELECT scope_id, bucket, tool, spent_micros, held_micros, hard_limit_micros FROM ledger.counters
UNION ALL
SELECT w.scope_id, b.bucket, w.tool, b.spent_micros, b.held_micros, b.hard_limit_micros
FROM ledger.window_counters w
CROSS JOIN LATERAL (VALUES (w.hour_bucket, w.hour_spent, w.hour_held, w.hour_limit),
                           (w.day_bucket, w.day_spent, w.day_held, w.day_limit),
                           (w.week_bucket, w.week_spent, w.week_held, w.week_limit),
                           (w.month_bucket, w.month_spent, w.month_held, w.month_limit),
                           ('L', w.lifetime_spent, w.lifetime_held, w.lifetime_limit))
    AS b(bucket, spent_micros, held_micros, hard_limit_micros)
WHERE b.bucket IS NOT NULL;

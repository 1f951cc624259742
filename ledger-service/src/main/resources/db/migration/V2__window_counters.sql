-- Spend counters of the calendar windows and lifetime move to one row per scope and tool.
--
-- Why: every payment grew 10 rows of ledger.counters (hour, day, week, month and lifetime, for every
-- tool and for its tool; 20 with a team), and under load those upserts made PostgreSQL the largest CPU
-- consumer of the payment path (1.28 CPU ms per payment, `./agentspend bench`). Here a payment grows 2
-- rows (4 with a team), each holding the current bucket of every window.
--
-- A window's current bucket lives in its *_bucket/_spent/_held/_limit columns. When a later bucket
-- arrives, the closed one moves to ledger.counters (same row shape as before), which also keeps
-- task buckets (T:<task id>) and any write to an already-closed bucket (a hold placed before the
-- window rolled and released or captured after it). Every bucket is therefore still counted exactly,
-- in exactly one place: the window row while current, ledger.counters once closed.
--
-- Buckets are ordered in the "C" collation (COLLATE "C" at each comparison): their text
-- (H:2026-11-29:13, D:2026-11-29, W:2026-W48, M:2026-11) sorts in time order byte by byte.
--
-- fillfactor 50: the rows are updated by every payment; free space on the page lets PostgreSQL update
-- them in place (HOT) without touching the primary key index.
CREATE TABLE ledger.window_counters (
    scope_id       text NOT NULL,
    tool           text NOT NULL,
    hour_bucket    text,
    hour_spent     bigint NOT NULL DEFAULT 0,
    hour_held      bigint NOT NULL DEFAULT 0,
    hour_limit     bigint,
    day_bucket     text,
    day_spent      bigint NOT NULL DEFAULT 0,
    day_held       bigint NOT NULL DEFAULT 0,
    day_limit      bigint,
    week_bucket    text,
    week_spent     bigint NOT NULL DEFAULT 0,
    week_held      bigint NOT NULL DEFAULT 0,
    week_limit     bigint,
    month_bucket   text,
    month_spent    bigint NOT NULL DEFAULT 0,
    month_held     bigint NOT NULL DEFAULT 0,
    month_limit    bigint,
    lifetime_spent bigint NOT NULL DEFAULT 0,
    lifetime_held  bigint NOT NULL DEFAULT 0,
    lifetime_limit bigint,
    PRIMARY KEY (scope_id, tool)
) WITH (fillfactor = 50);

ALTER TABLE ledger.agent_state SET (fillfactor = 70);

-- Existing counters: every scope and tool gets its row; lifetime and the newest bucket of each
-- window move into it, and leave ledger.counters.
INSERT INTO ledger.window_counters (scope_id, tool)
SELECT DISTINCT scope_id, tool FROM ledger.counters WHERE bucket !~ '^T:';

UPDATE ledger.window_counters w
SET lifetime_spent = c.spent_micros, lifetime_held = c.held_micros, lifetime_limit = c.hard_limit_micros
FROM ledger.counters c
WHERE c.scope_id = w.scope_id AND c.tool = w.tool AND c.bucket = 'L';

UPDATE ledger.window_counters w
SET hour_bucket = c.bucket, hour_spent = c.spent_micros, hour_held = c.held_micros, hour_limit = c.hard_limit_micros
FROM (SELECT DISTINCT ON (scope_id, tool) * FROM ledger.counters WHERE bucket LIKE 'H:%'
      ORDER BY scope_id, tool, bucket COLLATE "C" DESC) c
WHERE c.scope_id = w.scope_id AND c.tool = w.tool;

UPDATE ledger.window_counters w
SET day_bucket = c.bucket, day_spent = c.spent_micros, day_held = c.held_micros, day_limit = c.hard_limit_micros
FROM (SELECT DISTINCT ON (scope_id, tool) * FROM ledger.counters WHERE bucket LIKE 'D:%'
      ORDER BY scope_id, tool, bucket COLLATE "C" DESC) c
WHERE c.scope_id = w.scope_id AND c.tool = w.tool;

UPDATE ledger.window_counters w
SET week_bucket = c.bucket, week_spent = c.spent_micros, week_held = c.held_micros, week_limit = c.hard_limit_micros
FROM (SELECT DISTINCT ON (scope_id, tool) * FROM ledger.counters WHERE bucket LIKE 'W:%'
      ORDER BY scope_id, tool, bucket COLLATE "C" DESC) c
WHERE c.scope_id = w.scope_id AND c.tool = w.tool;

UPDATE ledger.window_counters w
SET month_bucket = c.bucket, month_spent = c.spent_micros, month_held = c.held_micros, month_limit = c.hard_limit_micros
FROM (SELECT DISTINCT ON (scope_id, tool) * FROM ledger.counters WHERE bucket LIKE 'M:%'
      ORDER BY scope_id, tool, bucket COLLATE "C" DESC) c
WHERE c.scope_id = w.scope_id AND c.tool = w.tool;

DELETE FROM ledger.counters c
USING ledger.window_counters w
WHERE c.scope_id = w.scope_id AND c.tool = w.tool
  AND (c.bucket = 'L' OR c.bucket = w.hour_bucket OR c.bucket = w.day_bucket
       OR c.bucket = w.week_bucket OR c.bucket = w.month_bucket);

-- Every counter as one relation, for audits (VerifyLedger's hard_cap check, the benchmark's audit):
-- closed and task buckets from ledger.counters, current buckets and lifetime from the window rows.
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

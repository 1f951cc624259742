-- The day aggregates (agent_tool_day, and agent_day's spend, calls and declines) are rolled up from
-- closed minutes instead of being written by every batch.
--
-- Why: a fleet of a thousand agents touches most of them in every 200 ms batch, so each batch
-- updated about as many rows of agent_tool_day and agent_day as of agent_tool_minute: three row
-- updates per payment where one carries the information. Under `./agentspend bench` the two day
-- statements were 0.0072 and 0.0025 ms of PostgreSQL's executor per payment (about a tenth of it).
-- Rolled up once a minute, a day row is written once per minute it has spend in.
--
-- day_rollup.through_minute (W): every minute before W has been added to the day rows, and its
-- minute rows say so (agent_tool_minute.rolled). A batch adds to the day rows only the entries whose
-- minute is before W (late entries: their minute is already rolled up); the others reach them when
-- their minute is rolled up, in the transaction that moves W. W moves in the same transaction as the
-- feed position, so every entry is counted in the day rows exactly once. Readers see the day rows
-- plus the minute rows not rolled up: the views below.
--
-- Why a flag beside W: readers select the unrolled minutes by it through a small partial index. A
-- filter on W (read by a subquery) is estimated by the planner at a third of the minute table,
-- which chose a sequential scan of ten million minute rows for the fleet overview
-- (FleetOverviewBenchmark: 589 ms against 37 before).

CREATE TABLE day_rollup (
    id             smallint PRIMARY KEY CHECK (id = 1),
    through_minute timestamptz NOT NULL
);

-- The previous release's consumer reads and moves the row named 'ledger', and would add every entry
-- to the day rows (and so count the unrolled ones twice). Renaming the row fences it off during a
-- rolling update: it finds no position and stops with an error until its pod is replaced, while
-- this release's consumer takes the advisory lock and goes on from the same position. First, so that
-- a batch of the old consumer in flight either commits before it (the row lock) or not at all.
-- Rolling back to the previous release, with this release's consumer stopped, in one transaction:
-- IngestionStore.ROLL_UP with $1 = 'infinity' (the day rows then hold every minute, as the previous
-- release expects), then
--   UPDATE analytics.feed_state SET feed = 'ledger' WHERE feed = 'ledger-entries';
-- (the previous release ignores the flag, the views and day_rollup).
UPDATE feed_state SET feed = 'ledger-entries' WHERE feed = 'ledger';

-- The day rows already hold every minute row written so far (the previous release wrote all three in
-- one transaction per batch; a batch of its consumer committed before the rename above is seen here,
-- one after it cannot commit), so W starts after the newest minute stored: a minute from W on
-- holds only entries this release adds.
INSERT INTO day_rollup (id, through_minute)
SELECT 1, GREATEST(date_trunc('minute', now()),
                   COALESCE((SELECT max(minute) FROM agent_tool_minute), '-infinity') + interval '1 minute');

-- Every minute row written so far is in the day rows; from here on a row is inserted with its flag
-- (true only for a late entry's new row) and marked when it is rolled up.
ALTER TABLE agent_tool_minute ADD COLUMN rolled boolean NOT NULL DEFAULT true;
ALTER TABLE agent_tool_minute ALTER COLUMN rolled DROP DEFAULT;
CREATE INDEX agent_tool_minute_unrolled ON agent_tool_minute (agent_id, minute) WHERE NOT rolled;

-- Per agent, UTC day, tool and team: the day rows and the minutes not rolled up yet, several rows
-- per key (readers sum them).
CREATE VIEW agent_tool_day_all AS
SELECT agent_id, day, tool, team_id, spend_micros, call_count, retry_call_count, retry_spend_micros,
       decline_count, declined_micros
FROM agent_tool_day
UNION ALL
SELECT agent_id, (minute AT TIME ZONE 'UTC')::date, tool, team_id, spend_micros, call_count, retry_call_count,
       retry_spend_micros, decline_count, declined_micros
FROM agent_tool_minute
WHERE NOT rolled;

-- Per agent and UTC day: agent_day and the minutes not rolled up yet, several rows per key (readers
-- sum them; a GROUP BY here summed every row of a fleet-wide read as numeric, 5 ms of 8 for the
-- fleet's fourteen days).
CREATE VIEW agent_day_all AS
SELECT agent_id, day, spend_micros, call_count, decline_count, completed_task_count, completed_task_micros
FROM agent_day
UNION ALL
SELECT agent_id, (minute AT TIME ZONE 'UTC')::date, spend_micros, call_count, decline_count, 0, 0
FROM agent_tool_minute
WHERE NOT rolled;

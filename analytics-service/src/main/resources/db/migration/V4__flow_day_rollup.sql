-- Agent-to-agent flows get day rows, rolled up from settled minutes the way the tool minutes are
-- (V2__day_rollup.sql, IngestionStore.ROLL_UP_FLOWS): the minute rows are now kept for a retention
-- (agentspend.analytics.retention.minute-days, store.RetentionPurge), and ListAgentFlows reads whole
-- UTC days from the day rows and only the ragged edges of its window from the minutes, as the tool
-- aggregates do.
--
-- Every flow minute stored so far starts out not rolled up: the consumer's next rollup (any batch
-- that moves W) adds those before W to the day rows and marks them, in its own transaction with the
-- feed position, and readers add the unrolled minutes to the day rows meanwhile (agent_flow_day_all).
-- The default stays false rather than being dropped as V2 did: a consumer of the previous release
-- still writing during a rolling update inserts minute rows without the flag, and they are rolled up
-- by this release like any other (the previous release reads flows from the minutes alone, which
-- the rollup leaves in place). Rolling back needs nothing: the minutes are all still there until the
-- retention, and the previous release ignores the flag, the day table and the view.
ALTER TABLE agent_flow_minute ADD COLUMN rolled boolean NOT NULL DEFAULT false;
CREATE INDEX agent_flow_minute_unrolled ON agent_flow_minute (minute) WHERE NOT rolled;

CREATE TABLE agent_flow_day (
    payer_agent_id text NOT NULL,
    payee_agent_id text NOT NULL,
    day            date NOT NULL,
    amount_micros  bigint NOT NULL,
    payment_count  bigint NOT NULL,
    PRIMARY KEY (payer_agent_id, payee_agent_id, day)
) WITH (fillfactor = 50);
CREATE INDEX agent_flow_day_day ON agent_flow_day (day);

-- Per payer, payee and UTC day: the day rows and the minutes not rolled up yet, several rows per key
-- (readers sum them).
CREATE VIEW agent_flow_day_all AS
SELECT payer_agent_id, payee_agent_id, day, amount_micros, payment_count
FROM agent_flow_day
UNION ALL
SELECT payer_agent_id, payee_agent_id, (minute AT TIME ZONE 'UTC')::date, amount_micros, payment_count
FROM agent_flow_minute
WHERE NOT rolled;

-- The analytics schema: aggregates of the ledger's entry feed, the latest policy of every agent and
-- team from identity's policy feed, and the feed positions. A batch of entries and the ledger
-- position it ends at are written in one transaction (see store.Ingestion), so a restart resumes
-- exactly once.

-- Where each feed stands: 'ledger' (last entry position applied) and 'policy' (last version).
CREATE TABLE feed_state (
    feed        text PRIMARY KEY,
    position    bigint NOT NULL,
    update_time timestamptz NOT NULL
);
INSERT INTO feed_state (feed, position, update_time) VALUES ('ledger', 0, now()), ('policy', 0, now());

-- Every agent known from either feed. The policy columns come from identity (latest version wins);
-- an agent first seen in the ledger feed gets a row with its team and currency until they arrive.
CREATE TABLE agent (
    agent_id       text PRIMARY KEY,
    handle         text NOT NULL DEFAULT '',
    team_id        text NOT NULL DEFAULT '',
    labels         jsonb NOT NULL DEFAULT '{}'::jsonb,
    currency_code  text NOT NULL DEFAULT '',
    status         int NOT NULL DEFAULT 0,
    -- agentspend.identity.v1.SpendingPolicy and WorkingHours, serialized; NULL until identity told.
    policy         bytea,
    working_hours  bytea,
    agent_version  bigint NOT NULL DEFAULT 0,
    first_seen_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_team ON agent (team_id);

CREATE TABLE team (
    team_id       text PRIMARY KEY,
    name          text NOT NULL,
    currency_code text NOT NULL,
    caps          bytea NOT NULL,
    team_version  bigint NOT NULL
);

-- The finest grain: per agent, tool, team (at entry time) and minute of the bucket time.
CREATE TABLE agent_tool_minute (
    agent_id           text NOT NULL,
    minute             timestamptz NOT NULL,
    tool               text NOT NULL,
    team_id            text NOT NULL,
    spend_micros       bigint NOT NULL,
    call_count         bigint NOT NULL,
    retry_call_count   bigint NOT NULL,
    retry_spend_micros bigint NOT NULL,
    decline_count      bigint NOT NULL,
    declined_micros    bigint NOT NULL,
    PRIMARY KEY (agent_id, minute, tool, team_id)
);
CREATE INDEX agent_tool_minute_minute ON agent_tool_minute (minute);

-- The same per UTC day: long windows read whole days here and only their ragged edges above.
CREATE TABLE agent_tool_day (
    agent_id           text NOT NULL,
    day                date NOT NULL,
    tool               text NOT NULL,
    team_id            text NOT NULL,
    spend_micros       bigint NOT NULL,
    call_count         bigint NOT NULL,
    retry_call_count   bigint NOT NULL,
    retry_spend_micros bigint NOT NULL,
    decline_count      bigint NOT NULL,
    declined_micros    bigint NOT NULL,
    PRIMARY KEY (agent_id, day, tool, team_id)
);
CREATE INDEX agent_tool_day_day ON agent_tool_day (day);

-- Per agent and UTC day: spend, and the tasks completed that day with their cost (a payment or
-- reversal that reaches a task after its completion is added to its completion day).
CREATE TABLE agent_day (
    agent_id              text NOT NULL,
    day                   date NOT NULL,
    spend_micros          bigint NOT NULL DEFAULT 0,
    call_count            bigint NOT NULL DEFAULT 0,
    decline_count         bigint NOT NULL DEFAULT 0,
    completed_task_count  bigint NOT NULL DEFAULT 0,
    completed_task_micros bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, day)
);
CREATE INDEX agent_day_day ON agent_day (day);

-- Per task: cost, calls, retries, first and last payment, outcome.
CREATE TABLE task (
    agent_id           text NOT NULL,
    task_id            text NOT NULL,
    cost_micros        bigint NOT NULL,
    call_count         bigint NOT NULL,
    retry_call_count   bigint NOT NULL,
    first_payment_time timestamptz,
    last_payment_time  timestamptz,
    outcome            int NOT NULL DEFAULT 0,
    completed_time     timestamptz,
    PRIMARY KEY (agent_id, task_id)
);
CREATE INDEX task_completed ON task (agent_id, completed_time);

-- Agent-to-agent payments per payer, payee and minute (reversals subtract).
CREATE TABLE agent_flow_minute (
    payer_agent_id text NOT NULL,
    payee_agent_id text NOT NULL,
    minute         timestamptz NOT NULL,
    amount_micros  bigint NOT NULL,
    payment_count  bigint NOT NULL,
    PRIMARY KEY (payer_agent_id, payee_agent_id, minute)
);
CREATE INDEX agent_flow_minute_minute ON agent_flow_minute (minute);

-- Holds placed and not yet captured, released or expired: they count in cap utilization.
CREATE TABLE open_hold (
    hold_id       text PRIMARY KEY,
    agent_id      text NOT NULL,
    tool          text NOT NULL,
    amount_micros bigint NOT NULL
);
CREATE INDEX open_hold_agent ON open_hold (agent_id);

-- Imported invoices and usage exports, for reconciliation against the ledger.
CREATE TABLE invoice (
    invoice_id    text PRIMARY KEY,
    request_id    text NOT NULL UNIQUE,
    request_hash  bytea NOT NULL,
    vendor        text NOT NULL,
    currency_code text NOT NULL,
    create_time   timestamptz NOT NULL
);

CREATE TABLE invoice_line (
    invoice_id    text NOT NULL REFERENCES invoice (invoice_id),
    line_number   int NOT NULL,
    tool          text NOT NULL,
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    amount_micros bigint NOT NULL,
    PRIMARY KEY (invoice_id, line_number)
);

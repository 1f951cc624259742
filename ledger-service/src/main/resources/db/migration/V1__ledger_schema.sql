-- The ledger: double-entry postings, the entry feed, holds, spend counters and idempotency.
-- Entries (ledger.entries) and postings (ledger.postings) are append-only: a trigger refuses
-- every UPDATE, DELETE and TRUNCATE. Corrections are new entries (reversals).

-- Accounts: one per agent (AGENT), and per currency one FUNDING account (where top-ups come
-- from) and one VENDOR account (the external side that payments go to). Team money is the sum
-- of its agents' accounts; teams have spend counters and caps, not a money account of their own.
CREATE TABLE ledger.accounts (
    account_id    text PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('AGENT', 'FUNDING', 'VENDOR')),
    owner_id      text NOT NULL,
    currency_code text NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now()
);

-- One row per agent: the lock that serializes the agent's authorizations, and its running
-- balance and reservations. balance_micros always equals the sum of the agent account's
-- postings (VerifyLedger checks it). FUNDING and VENDOR balances are not kept as running
-- totals (they would be a hot row every payment contends on); they are the sums of postings.
CREATE TABLE ledger.agent_state (
    agent_id       text PRIMARY KEY,
    currency_code  text NOT NULL,
    balance_micros bigint NOT NULL DEFAULT 0,
    held_micros    bigint NOT NULL DEFAULT 0 CHECK (held_micros >= 0),
    open_holds     integer NOT NULL DEFAULT 0 CHECK (open_holds >= 0),
    create_time    timestamptz NOT NULL DEFAULT now()
);

-- One row per team: the lock that serializes authorizations against the team's caps.
CREATE TABLE ledger.team_state (
    team_id     text PRIMARY KEY,
    create_time timestamptz NOT NULL DEFAULT now()
);

-- Spend counters per scope (agent or team id), bucket and tool ('' = every tool). Buckets:
-- H:<hour>, D:<day>, W:<iso week>, M:<month> (UTC calendar windows), L (lifetime), T:<task id>.
-- hard_limit_micros: the tightest HARD limit in force the last time the counter grew; VerifyLedger
-- checks spent + held against it. (No CHECK on held_micros: PostgreSQL checks constraints on the
-- row proposed by INSERT .. ON CONFLICT before resolving the conflict, and releases propose
-- negative deltas. VerifyLedger checks held amounts against the open holds instead.)
CREATE TABLE ledger.counters (
    scope_id          text NOT NULL,
    bucket            text NOT NULL,
    tool              text NOT NULL,
    spent_micros      bigint NOT NULL DEFAULT 0,
    held_micros       bigint NOT NULL DEFAULT 0,
    hard_limit_micros bigint,
    PRIMARY KEY (scope_id, bucket, tool)
);

-- The feed position counter. Its row is updated as the last statement of every writing
-- transaction: the row lock is held until commit, so positions are assigned in commit order and
-- a reader of "after P" can never miss an entry that commits later with a smaller position.
CREATE TABLE ledger.feed_position (
    id            integer PRIMARY KEY CHECK (id = 1),
    last_position bigint NOT NULL
);
INSERT INTO ledger.feed_position (id, last_position) VALUES (1, 0);

-- Every recorded event, in one total order (position). payload is the full Entry message
-- (agentspend.ledger.v1.Entry); the columns beside it are for filtering and verification.
CREATE TABLE ledger.entries (
    position          bigint PRIMARY KEY,
    entry_id          text NOT NULL UNIQUE,
    event_type        smallint NOT NULL,
    agent_id          text NOT NULL,
    team_id           text NOT NULL,
    tool              text NOT NULL,
    task_id           text NOT NULL,
    decision          smallint NOT NULL,
    amount_micros     bigint NOT NULL,
    spend_micros      bigint NOT NULL,
    currency_code     text NOT NULL,
    hold_id           text NOT NULL,
    reversed_entry_id text NOT NULL,
    recorded_time     timestamptz NOT NULL,
    payload           bytea NOT NULL
);
CREATE INDEX entries_agent ON ledger.entries (agent_id, position);
CREATE INDEX entries_team ON ledger.entries (team_id, position) WHERE team_id <> '';
CREATE INDEX entries_reversed ON ledger.entries (reversed_entry_id) WHERE reversed_entry_id <> '';

-- Double-entry postings: the legs of every entry that moves money. Per entry they sum to zero.
CREATE TABLE ledger.postings (
    entry_id      text NOT NULL,
    account_id    text NOT NULL REFERENCES ledger.accounts (account_id),
    amount_micros bigint NOT NULL,
    currency_code text NOT NULL,
    PRIMARY KEY (entry_id, account_id)
);
CREATE INDEX postings_account ON ledger.postings (account_id);

-- Holds: reservations. Mutable state (status), not entries: every change of a hold is also
-- recorded as an entry (HOLD_PLACED, HOLD_CAPTURED, HOLD_RELEASED, HOLD_EXPIRED).
-- Status: 1 open, 2 captured, 3 released, 4 expired (agentspend.ledger.v1.HoldStatus).
CREATE TABLE ledger.holds (
    hold_id         text PRIMARY KEY,
    agent_id        text NOT NULL,
    team_id         text NOT NULL,
    amount_micros   bigint NOT NULL CHECK (amount_micros > 0),
    currency_code   text NOT NULL,
    tool            text NOT NULL,
    task_id         text NOT NULL,
    call_id         text NOT NULL,
    status          smallint NOT NULL,
    placed_time     timestamptz NOT NULL,
    expire_time     timestamptz NOT NULL,
    captured_micros bigint NOT NULL DEFAULT 0,
    close_time      timestamptz
);
CREATE INDEX holds_open_by_agent ON ledger.holds (agent_id, expire_time) WHERE status = 1;
CREATE INDEX holds_open_by_expiry ON ledger.holds (expire_time) WHERE status = 1;

-- Completed tasks (agent_id, task_id): a task is completed once.
CREATE TABLE ledger.tasks (
    agent_id text NOT NULL,
    task_id  text NOT NULL,
    outcome  smallint NOT NULL,
    entry_id text NOT NULL,
    PRIMARY KEY (agent_id, task_id)
);

-- Idempotency: one row per caller and request_id, written in the same transaction as the
-- effect. fingerprint = SHA-256 of the method and the request; response = the response sent.
CREATE TABLE ledger.idempotency (
    caller      text NOT NULL,
    request_id  text NOT NULL,
    method      text NOT NULL,
    fingerprint bytea NOT NULL,
    response    bytea NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, request_id)
);

CREATE FUNCTION ledger.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger.% is append-only: % refused (corrections are new entries)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON ledger.entries
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON ledger.entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON ledger.postings
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON ledger.postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- Agents, teams and keys keep their full proto in `body` (the API's own shape, so reads need no
-- mapping); the columns beside it exist for lookups, ordering and constraints.
CREATE TABLE identity.teams (
    id            text PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    currency_code text NOT NULL,
    version       bigint NOT NULL CHECK (version > 0),
    body          bytea NOT NULL
);

CREATE TABLE identity.agents (
    id            text PRIMARY KEY,
    handle        text NOT NULL UNIQUE,
    team_id       text REFERENCES identity.teams (id),
    status        text NOT NULL CHECK (status IN ('ACTIVE', 'SUSPENDED', 'REVOKED')),
    currency_code text NOT NULL,
    version       bigint NOT NULL CHECK (version > 0),
    body          bytea NOT NULL
);
CREATE INDEX agents_team_handle ON identity.agents (team_id, handle);

-- Only the SHA-256 of a key's secret: the secret itself never reaches the database.
CREATE TABLE identity.api_keys (
    key_id        text PRIMARY KEY,
    agent_id      text NOT NULL REFERENCES identity.agents (id),
    secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
    description   text NOT NULL,
    create_time   timestamptz NOT NULL,
    expire_time   timestamptz,
    revoke_time   timestamptz
);
CREATE INDEX api_keys_agent ON identity.api_keys (agent_id, key_id);

CREATE TABLE identity.audit_events (
    sequence       bigserial PRIMARY KEY,
    event_time     timestamptz NOT NULL,
    actor          text NOT NULL,
    action         text NOT NULL,
    subject_type   text NOT NULL,
    subject_id     text NOT NULL,
    old_value_json text NOT NULL,
    new_value_json text NOT NULL,
    reason         text NOT NULL,
    request_id     text NOT NULL
);
CREATE INDEX audit_events_subject ON identity.audit_events (subject_id, sequence);

-- The audit log is evidence: even a bug or an operator with SQL access must not rewrite it.
CREATE FUNCTION identity.audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'identity.audit_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON identity.audit_events
    FOR EACH ROW EXECUTE FUNCTION identity.audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON identity.audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION identity.audit_events_append_only();

-- One row per mutating request: a retry with the same request_id replays `response`.
CREATE TABLE identity.idempotency_records (
    request_id     text PRIMARY KEY,
    method         text NOT NULL,
    request_sha256 bytea NOT NULL,
    response       bytea NOT NULL,
    create_time    timestamptz NOT NULL
);

-- The policy feed. Every write transaction holds one advisory lock, so versions are taken and
-- committed in the same order: a watcher that has seen version V has seen everything below V.
CREATE SEQUENCE identity.feed_version;
CREATE TABLE identity.policy_changes (
    version      bigint PRIMARY KEY,
    subject_type text NOT NULL CHECK (subject_type IN ('agent', 'team')),
    subject_id   text NOT NULL,
    payload      bytea NOT NULL,
    commit_time  timestamptz NOT NULL
);
CREATE INDEX policy_changes_subject ON identity.policy_changes (subject_type, subject_id, version DESC);

-- The alert service owns the schema `alerts` (created by Flyway, see application.properties).

-- The feed position of the consumer and the global rule state (the agent-payment graph), written
-- in the same transaction as the per-agent rule state and the alerts a batch of entries produced:
-- a restart resumes exactly after the last committed entry.
create table consumer_state (
    id              smallint primary key check (id = 1),
    position        bigint   not null,
    graph_state     jsonb    not null,
    update_time     timestamptz not null
);
insert into consumer_state (id, position, graph_state, update_time)
values (1, 0, '{}'::jsonb, now());

-- Per-agent rule state (time buckets, open tasks, cap windows), as of consumer_state.position.
create table agent_state (
    agent_id        text primary key,
    state           jsonb not null,
    position        bigint not null
);

create table alerts (
    alert_id          text primary key,
    rule              text not null,
    dedupe_key        text not null,
    agent_ids         text[] not null,
    team_id           text not null,
    severity          smallint not null,
    state             text not null check (state in ('FIRING', 'ACKNOWLEDGED', 'RESOLVED')),
    action            text not null,
    evidence          jsonb not null,
    first_seen_time   timestamptz not null,
    last_seen_time    timestamptz not null,
    acknowledge_time  timestamptz,
    acknowledge_note  text not null default '',
    resolve_time      timestamptz
);
-- One condition gives one alert: at most one open alert per dedupe key.
create unique index alerts_open_key on alerts (dedupe_key) where state <> 'RESOLVED';
create index alerts_by_first_seen on alerts (first_seen_time desc, alert_id desc);
create index alerts_by_agent on alerts using gin (agent_ids);

-- The alert feed behind WatchAlerts. Inserts take a transaction-level advisory lock first, so
-- event ids become visible in id order and a tailing reader never skips one.
create table alert_events (
    event_id     bigserial primary key,
    alert_id     text not null references alerts (alert_id),
    event_type   text not null,
    -- For AGENT_SUSPENDED: the agent suspended.
    agent_id     text not null default '',
    event_time   timestamptz not null,
    -- Filter columns of WatchAlerts, and the alert as of this event (agentspend.alerts.v1.Alert).
    agent_ids    text[] not null,
    team_id      text not null,
    rule         text not null,
    severity     smallint not null,
    alert        bytea not null
);

create table rule_configs (
    scope        text not null,
    scope_id     text not null,
    rule         text not null,
    config       jsonb not null,
    update_time  timestamptz not null,
    primary key (scope, scope_id, rule)
);

create table webhooks (
    webhook_id      text primary key,
    request_id      text not null unique,
    url             text not null,
    format          text not null,
    description     text not null,
    -- AES-256-GCM of the signing secret under the configured key; the nonce is kept with it.
    secret_nonce    bytea not null,
    secret_cipher   bytea not null,
    create_time     timestamptz not null,
    delete_time     timestamptz
);

-- The durable outbox of webhook deliveries, written in the transaction that creates the event.
-- delivery_id is the idempotency id a receiver sees on every attempt.
create table webhook_deliveries (
    delivery_id       text primary key,
    seq               bigserial not null,
    webhook_id        text not null references webhooks (webhook_id),
    event_id          bigint not null references alert_events (event_id),
    status            text not null check (status in ('PENDING', 'DELIVERED', 'FAILED')),
    attempts          integer not null default 0,
    next_attempt_time timestamptz not null,
    lease_until       timestamptz,
    last_error        text not null default '',
    create_time       timestamptz not null,
    deliver_time      timestamptz
);
create index webhook_deliveries_pending on webhook_deliveries (webhook_id, seq) where status = 'PENDING';

-- The durable outbox of suspensions requested from identity.
create table suspensions (
    alert_id          text not null references alerts (alert_id),
    agent_id          text not null,
    status            text not null check (status in ('PENDING', 'DONE', 'FAILED')),
    attempts          integer not null default 0,
    next_attempt_time timestamptz not null,
    last_error        text not null default '',
    primary key (alert_id, agent_id)
);
create index suspensions_pending on suspensions (next_attempt_time) where status = 'PENDING';

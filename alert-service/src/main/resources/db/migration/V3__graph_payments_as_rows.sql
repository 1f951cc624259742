-- The payment graph as one row per agent payment instead of one JSON value.
--
-- Why: the graph (an hour of agent-to-agent payments by default) was one bytea value in
-- consumer_state, written whole by every batch that added or pruned a payment. Its size grows with
-- the agent payments in the window (about 100 bytes each: 48 agent payments a second make 17 MB),
-- so a batch's cost grew with the window rather than with the batch. Now a batch inserts the
-- payments it added and deletes those recorded before the cutoff it pruned at.
--
-- Rolling update: the previous release reads and writes consumer_state.graph_state, this one the
-- rows, and the value is left as it was at migration time (dropped in a later release). Whichever
-- release evaluates during the overlap, the other one's graph misses the payments evaluated in
-- between: a loop among them is detected late (when its next payment comes), never falsely.

create table graph_payments (
    id                   bigint generated always as identity primary key,
    from_agent           text   not null,
    to_agent             text   not null,
    amount_micros        bigint not null,
    recorded_epoch_milli bigint not null
);

-- every batch with an agent payment older than the window deletes by recorded time
create index graph_payments_recorded on graph_payments (recorded_epoch_milli);

insert into graph_payments (from_agent, to_agent, amount_micros, recorded_epoch_milli)
select p ->> 'from', p ->> 'to', (p ->> 'amountMicros')::bigint, (p ->> 'recordedEpochMilli')::bigint
from consumer_state s,
     jsonb_array_elements(coalesce(convert_from(s.graph_state, 'UTF8')::jsonb -> 'payments', '[]'::jsonb))
         with ordinality as e (p, n)
order by n;

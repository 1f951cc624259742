-- Rule state as bytes PostgreSQL does not look into, and an agent's time buckets as rows of their own.
--
-- As jsonb, every batch made PostgreSQL parse each dirty agent's whole state (about 4 KB after ten
-- minutes of payments, 350 KB after a day: one bucket of about 230-420 bytes a minute, 1,500 kept)
-- and, above 2 KB, compress it with pglz: the consumer's backend used 0.27 CPU ms per payment in the
-- benchmark. The service only ever reads the state back whole, so PostgreSQL gets the JSON as bytea
-- (no parsing) with storage EXTERNAL (no compression); a batch writes an agent's head (everything
-- but the buckets) and only the buckets its entries touched, and deletes the buckets pruned.

create table agent_buckets (
    agent_id  text   not null,
    -- epoch second / bucket seconds
    bucket    bigint not null,
    -- AgentState.Bucket as JSON (UTF-8)
    data      bytea  not null,
    primary key (agent_id, bucket)
);

insert into agent_buckets (agent_id, bucket, data)
select s.agent_id, b.key::bigint, convert_to(b.value::text, 'UTF8')
from agent_state s, jsonb_each(s.state -> 'buckets') b;

-- AgentState as JSON (UTF-8), without its buckets.
alter table agent_state alter column state type bytea using convert_to((state - 'buckets')::text, 'UTF8');
alter table agent_state alter column state set storage external;
alter table agent_buckets alter column data set storage external;

-- PaymentGraph as JSON (UTF-8).
alter table consumer_state alter column graph_state type bytea using convert_to(graph_state::text, 'UTF8');
alter table consumer_state alter column graph_state set storage external;

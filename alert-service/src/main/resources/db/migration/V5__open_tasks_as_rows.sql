-- An agent's open tasks as rows of their own, out of its head.
--
-- Why: every batch writes the head of every agent it touched, and the head held the agent's open
-- tasks (paid for, not completed; up to 1,000 an agent). An agent that does not complete its tasks
-- (CompleteTask is optional) had a 58 KB head, stored out of line and logged whole in the WAL on
-- every update, to add one payment to one task (ConsumerStoreCostMain's task agent). As rows, a batch
-- writes the tasks its entries paid and deletes those completed, pruned or evicted.
--
-- Rolling update: one replica evaluates at a time (the consumer lock). If one of the previous release
-- evaluates after this migration, it finds no open tasks in the heads, and this release ignores the
-- tasks it writes into them: a task paid before the switch and completed after it counts with the
-- spend the evaluating release saw, as a task whose payments this service missed. Nothing else differs.

create table agent_open_tasks (
    agent_id          text   not null,
    task_id           text   not null,
    -- spend of the task's payments so far
    spend_micros      bigint not null,
    -- recorded time of its latest payment
    last_epoch_second bigint not null,
    primary key (agent_id, task_id)
);

insert into agent_open_tasks (agent_id, task_id, spend_micros, last_epoch_second)
select s.agent_id, t.key, (t.value ->> 'spend')::bigint, (t.value ->> 'lastEpochSecond')::bigint
from agent_state s, jsonb_each(convert_from(s.state, 'UTF8')::jsonb -> 'openTasks') t;

update agent_state
set state = convert_to((convert_from(state, 'UTF8')::jsonb - 'openTasks')::text, 'UTF8')
where convert_from(state, 'UTF8')::jsonb ? 'openTasks';

-- What the consumer's sweeps resolved, by dedupe key, and the time each sweep judged it at: an
-- entry recorded before that time (one that waited for its agent's lock, or the backlog after a
-- restart) is covered by the resolved alert and must not fire a second one (with SUSPEND, a second
-- suspension of an agent a person may have reinstated). Kept in the consumer's memory until now,
-- so a process restart or a hand-off to another replica forgot it; written in the batch transaction
-- that resolves the alert and read back with the rest of the consumer's state. Rows older than a
-- day are deleted by the sweeps (Evaluator.SWEPT_KEEP).
create table sweep_resolutions (
    dedupe_key text primary key,
    judged_at  timestamptz not null
);
create index sweep_resolutions_age on sweep_resolutions (judged_at);

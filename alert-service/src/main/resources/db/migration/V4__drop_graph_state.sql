-- consumer_state.graph_state held the agent-payment graph as one JSON value until V3 moved its
-- payments to rows (graph_payments). V3 left the value in place for the release before it, which
-- read and wrote it during a rolling update; no release since reads it, so it goes.
alter table consumer_state drop column graph_state;

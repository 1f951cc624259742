-- Room on each page of the time-window aggregates for their rows' next versions.
--
-- Why: a minute row is inserted by the first batch of its minute and then updated by nearly every
-- batch of that minute (a day row by every minute's roll-up of that day). Pages filled to the brim
-- left no room for the new version, so almost every update wrote it to another page and added an
-- entry to each of the table's indexes (three for agent_tool_minute): on a copy of the schema, 4,000
-- fresh minute rows updated five times made 42 of 20,000 updates in place (HOT) at fillfactor 100,
-- 15,398 at 70 and 19,859 at 50, and the five update batches took about 125 ms each against 70-115
-- at 50. These tables hold a bounded window of time, so the pages half full cost little space.
--
-- Only pages filled from now on keep the room (nothing is rewritten: no lock beyond the ALTER's
-- brief one); the rows of each new minute and day go to such pages.
ALTER TABLE agent_tool_minute SET (fillfactor = 50);
ALTER TABLE agent_flow_minute SET (fillfactor = 50);
ALTER TABLE agent_tool_day SET (fillfactor = 50);
ALTER TABLE agent_day SET (fillfactor = 50);

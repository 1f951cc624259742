-- Feed compaction deletes changes that a later change of the same subject superseded, once they
-- are older than the retention. `version` is the newest version compaction has reached: resuming
-- after a version below it could miss a deleted change, so such a watcher gets a snapshot.
CREATE TABLE identity.feed_horizon (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version   bigint NOT NULL
);
INSERT INTO identity.feed_horizon (singleton, version) VALUES (true, 0);
CREATE INDEX policy_changes_commit_time ON identity.policy_changes (commit_time);

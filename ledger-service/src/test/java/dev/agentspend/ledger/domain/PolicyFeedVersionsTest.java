package dev.agentspend.ledger.domain;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PolicyFeedVersionsTest {
    final PolicyFeedVersions versions = new PolicyFeedVersions();

    @Test
    void aVersionIsAppliedOnceALaterOneAHeartbeatOrItsSnapshotsEndArrives() {
        versions.streamStarted();
        versions.policy(7);
        versions.policy(7);
        assertEquals(0, versions.applied(), "the snapshot of version 7 is still being sent");
        versions.snapshotComplete(7);
        assertEquals(7, versions.applied());

        versions.policy(9);
        assertEquals(7, versions.applied(), "more events of version 9 may follow");
        versions.policy(12);
        assertEquals(9, versions.applied());
        versions.heartbeat();
        assertEquals(12, versions.applied());
    }

    @Test
    void aSnapshotCutShortIsNotCompletedByTheNextStream() {
        // first stream: part of the snapshot of version 5, then the stream is lost
        versions.streamStarted();
        versions.policy(5);
        versions.policy(5);
        // second stream resumes after 0 and gets a newer snapshot, of version 8
        versions.streamStarted();
        versions.policy(8);
        assertEquals(0, versions.applied(), "the snapshot of version 5 was never sent whole");
        // lost again mid-snapshot: the third stream must still resume from the start
        versions.streamStarted();
        assertEquals(0, versions.applied());
        versions.policy(8);
        versions.snapshotComplete(8);
        assertEquals(8, versions.applied());
    }

    @Test
    void anIncrementalStreamCutShortResumesBeforeTheVersionItWasSending() {
        versions.streamStarted();
        versions.policy(3);
        versions.snapshotComplete(3);
        versions.policy(4);
        // lost after one of version 4's events: 4 is resent whole by the next stream
        versions.streamStarted();
        assertEquals(3, versions.applied());
        versions.policy(4);
        versions.policy(4);
        versions.policy(6);
        assertEquals(4, versions.applied());
    }
}

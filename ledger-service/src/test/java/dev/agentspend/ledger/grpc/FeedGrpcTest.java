package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CapScope;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.StreamEntriesRequest;
import dev.agentspend.proto.ledger.v1.StreamEntriesResponse;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import dev.agentspend.ledger.store.LedgerQueries;
import java.time.Duration;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.agentspend.ledger.support.Fixture.cap;
import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class FeedGrpcTest {
    @Inject
    LedgerQueries queries;

    @Inject
    io.micrometer.core.instrument.MeterRegistry registry;

    /** A StreamEntries subscription on its own cancellable context. */
    static final class Subscription implements AutoCloseable {
        final Context.CancellableContext context = Context.current().withCancellation();
        final Iterator<StreamEntriesResponse> events;
        final int perResponse;
        private final java.util.ArrayDeque<Entry> received = new java.util.ArrayDeque<>();

        Subscription(String token, long after) {
            this(token, after, 0);
        }

        /** With {@code perResponse} above 1, every response must carry 1 to perResponse entries in `entries`. */
        Subscription(String token, long after, int perResponse) {
            this.perResponse = perResponse;
            LedgerServiceGrpc.LedgerServiceBlockingStub stub = LedgerServiceGrpc.newBlockingStub(Fixture.ledgerChannel())
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
                    .withDeadlineAfter(120, TimeUnit.SECONDS);
            Context previous = context.attach();
            try {
                events = stub.streamEntries(StreamEntriesRequest.newBuilder().setAfterPosition(after)
                        .setMaxEntriesPerResponse(perResponse).build());
            } finally {
                context.detach(previous);
            }
        }

        /** The next response, checked for its form. */
        StreamEntriesResponse nextResponse() {
            StreamEntriesResponse r = events.next();
            if (perResponse > 1) {
                assertFalse(r.hasEntry(), "`entry` is set in the batched form");
                assertTrue(r.getEntriesCount() >= 1 && r.getEntriesCount() <= perResponse,
                        r.getEntriesCount() + " entries in a response of at most " + perResponse);
            } else {
                assertTrue(r.hasEntry(), "`entry` is missing in the one-entry form");
                assertEquals(0, r.getEntriesCount(), "`entries` is used in the one-entry form");
            }
            return r;
        }

        Entry next() {
            if (received.isEmpty()) {
                StreamEntriesResponse r = nextResponse();
                if (perResponse > 1) {
                    received.addAll(r.getEntriesList());
                } else {
                    received.add(r.getEntry());
                }
            }
            return received.poll();
        }

        @Override
        public void close() {
            context.cancel(null);
        }
    }

    static io.grpc.Metadata bearer(String token) {
        io.grpc.Metadata headers = new io.grpc.Metadata();
        headers.put(io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return headers;
    }

    static long head() {
        return Fixture.queryLong("SELECT last_position FROM ledger.feed_position");
    }

    @Test
    void theFeedNeverSkipsAnEntryWhileConcurrentWritersCommit() throws Exception {
        neverSkips(0);
    }

    @Test
    void theFeedNeverSkipsAnEntryWhileConcurrentWritersCommitManyEntriesPerResponse() throws Exception {
        neverSkips(64);
    }

    @Test
    void aConsumerMayTakeManyEntriesPerResponse() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        long start = head();
        for (int i = 0; i < 7; i++) {
            a.ledger().pay(pay(1_000 + i).build());
        }
        long end = head();
        // at least 7 entries had committed before the subscription: its first page holds them all,
        // cut into responses of 3
        List<Integer> sizes = new ArrayList<>();
        List<Entry> received = new ArrayList<>();
        try (Subscription feed = new Subscription(LedgerTestResource.SERVICE_TOKEN, start, 3)) {
            while (received.isEmpty() || received.get(received.size() - 1).getPosition() < end) {
                StreamEntriesResponse r = feed.nextResponse();
                sizes.add(r.getEntriesCount());
                received.addAll(r.getEntriesList());
            }
        }
        assertEquals(3, sizes.get(0));
        assertEquals(3, sizes.get(1));
        for (int i = 0; i < received.size(); i++) {
            assertEquals(start + 1 + i, received.get(i).getPosition(), "position at index " + i);
        }
        assertEquals(7, received.stream().filter(e -> e.getAgentId().equals(a.id())).count());
        // more than the ledger sends at once is accepted and treated as its maximum: the whole first page in one response
        try (Subscription feed = new Subscription(LedgerTestResource.SERVICE_TOKEN, start, Integer.MAX_VALUE)) {
            assertTrue(feed.nextResponse().getEntriesCount() >= 7, "the 7-entry backlog in one response");
        }
        // the same backlog in the original form: one entry per response
        try (Subscription feed = new Subscription(LedgerTestResource.SERVICE_TOKEN, start, 1)) {
            for (int i = 0; i < 3; i++) {
                assertEquals(received.get(i), feed.nextResponse().getEntry());
            }
        }
    }

    /**
     * The entries a subscriber at the head gets come from the ledger's memory of its own commits
     * (FeedTail), not from the database: they must be the rows as stored, positions included.
     */
    @Test
    void entriesServedFromMemoryAreTheDatabasesOwn() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 8_000, true)).build(), 10_000_000);
        double fromMemory = registry.counter("agentspend.ledger.stream.reads", "source", "memory").count();
        long start = head();
        for (int i = 0; i < 6; i++) {
            // the fifth and sixth are declined by the cap: declines are entries too
            a.ledger().pay(pay(2_000).setTool("tool-" + i).setTaskId("task-" + (i % 2)).build());
        }
        Fixture.credit(a, 1_000);
        long end = head();
        List<Entry> received = new ArrayList<>();
        try (Subscription feed = new Subscription(LedgerTestResource.SERVICE_TOKEN, start, 64)) {
            while (received.isEmpty() || received.get(received.size() - 1).getPosition() < end) {
                received.add(feed.next());
            }
        }
        List<Entry> stored = new ArrayList<>();
        try (java.sql.Connection c = Fixture.sql();
             java.sql.PreparedStatement st = c.prepareStatement(
                     "SELECT position, payload FROM ledger.entries WHERE position > ? AND position <= ? ORDER BY position")) {
            st.setLong(1, start);
            st.setLong(2, end);
            try (java.sql.ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    stored.add(Entry.parseFrom(rs.getBytes(2)).toBuilder().setPosition(rs.getLong(1)).build());
                }
            }
        }
        assertEquals(end - start, stored.size());
        assertEquals(stored, received);
        assertEquals(2, received.stream().filter(e -> e.getDecision() == dev.agentspend.proto.ledger.v1.Decision.DECISION_DECLINED).count());
        assertTrue(registry.counter("agentspend.ledger.stream.reads", "source", "memory").count() > fromMemory,
                "a subscriber at the head read the ledger's memory");
    }

    @Test
    void entryIdsSortAsTheirRecordedTimes() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        long start = head();
        for (int i = 0; i < 20; i++) {
            a.ledger().pay(pay(1_000 + i).build());
        }
        long end = head();
        List<Entry> ours = new ArrayList<>();
        try (Subscription feed = new Subscription(LedgerTestResource.SERVICE_TOKEN, start, 64)) {
            for (Entry e = feed.next(); ; e = feed.next()) {
                if (e.getAgentId().equals(a.id())) {
                    ours.add(e);
                }
                if (e.getPosition() >= end) {
                    break;
                }
            }
        }
        assertEquals(20, ours.size());
        int comparedPairs = 0;
        for (Entry x : ours) {
            assertTrue(dev.agentspend.common.api.Ids.isWellFormed(x.getEntryId(), "ent"), x.getEntryId());
            for (Entry y : ours) {
                long tx = com.google.protobuf.util.Timestamps.toMillis(x.getRecordedTime());
                long ty = com.google.protobuf.util.Timestamps.toMillis(y.getRecordedTime());
                if (tx != ty) {
                    comparedPairs++;
                    assertEquals(Long.signum(Long.compare(tx, ty)), Integer.signum(x.getEntryId().compareTo(y.getEntryId())),
                            x.getEntryId() + " at " + tx + " vs " + y.getEntryId() + " at " + ty);
                }
            }
        }
        assertTrue(comparedPairs > 0, "twenty payments one after another were recorded in more than one millisecond");
    }

    private void neverSkips(int perResponse) throws Exception {
        List<TestAgent> agents = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            agents.add(Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000_000L));
        }
        long start = head();
        int writers = 16;
        int perWriter = 60;
        List<Entry> received = new ArrayList<>();
        try (Subscription feed = new Subscription(LedgerTestResource.SERVICE_TOKEN, start, perResponse)) {
            ExecutorService pool = Executors.newFixedThreadPool(writers + 1);
            // the consumer reads while the writers write
            Future<?> consumer = pool.submit(() -> {
                long expected = writers * perWriter;
                while (received.stream().filter(e -> e.getEventType() == EventType.EVENT_TYPE_PAYMENT_APPROVED
                        && agents.stream().anyMatch(a -> a.id().equals(e.getAgentId()))).count() < expected) {
                    received.add(feed.next());
                }
                return null;
            });
            List<Future<?>> writing = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int n = w;
                writing.add(pool.submit(() -> {
                    for (int i = 0; i < perWriter; i++) {
                        agents.get((n + i) % agents.size()).ledger().pay(pay(1_000 + i).build());
                    }
                    return null;
                }));
            }
            for (Future<?> f : writing) {
                f.get(120, TimeUnit.SECONDS);
            }
            consumer.get(60, TimeUnit.SECONDS);
            pool.shutdown();
        }
        // strictly consecutive positions from where the consumer started: nothing skipped
        for (int i = 0; i < received.size(); i++) {
            assertEquals(start + 1 + i, received.get(i).getPosition(), "position at index " + i);
        }
        long end = received.get(received.size() - 1).getPosition();
        Set<String> inDatabase = new HashSet<>();
        try (var c = Fixture.sql(); var st = c.prepareStatement("SELECT entry_id FROM ledger.entries WHERE position > ? AND position <= ?")) {
            st.setLong(1, start);
            st.setLong(2, end);
            try (var rs = st.executeQuery()) {
                while (rs.next()) {
                    inDatabase.add(rs.getString(1));
                }
            }
        }
        Set<String> streamed = new HashSet<>();
        received.forEach(e -> streamed.add(e.getEntryId()));
        assertEquals(inDatabase, streamed);
    }

    @Test
    void theFeedIsResumableAndCarriesWhatConsumersNeed() {
        String team = Fixture.newTeam();
        TestAgent a = Fixture.newAgent(team, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 1_000_000, true)).build(), 10_000_000);
        long start = head();
        a.ledger().pay(pay(600_000).setTaskId("t-9").setCallId("c-1").setAttempt(1).putLabels("team/cost-center", "42").build());
        a.ledger().pay(pay(600_000).setTaskId("t-9").setCallId("c-1").setAttempt(2).build());
        a.ledger().pay(pay(400_000).setTaskId("t-9").setCallId("c-2").setAttempt(1).build());
        List<Entry> mine = new ArrayList<>();
        try (Subscription feed = new Subscription(LedgerTestResource.SERVICE_TOKEN, start)) {
            while (mine.size() < 3) {
                Entry e = feed.next();
                if (e.getAgentId().equals(a.id())) {
                    mine.add(e);
                }
            }
        }
        Entry approved = mine.get(0);
        assertEquals(EventType.EVENT_TYPE_PAYMENT_APPROVED, approved.getEventType());
        assertEquals(team, approved.getTeamId());
        assertEquals("t-9", approved.getTaskId());
        assertEquals("c-1", approved.getCallId());
        assertEquals(1, approved.getAttempt());
        assertEquals("42", approved.getLabelsOrThrow("team/cost-center"));
        assertEquals("openai/chat.completions", approved.getTool());
        assertEquals("USD", approved.getCurrencyCode());
        assertTrue(approved.hasRecordedTime());
        assertTrue(approved.getRequestId().startsWith("pay-"));
        Entry declined = mine.get(1);
        assertEquals(EventType.EVENT_TYPE_PAYMENT_DECLINED, declined.getEventType());
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, declined.getDeclineReason());
        assertEquals(CapWindow.CAP_WINDOW_DAY, declined.getExceededCap().getWindow());
        assertEquals(CapScope.CAP_SCOPE_AGENT, declined.getExceededCap().getScope());
        assertEquals(400_000, declined.getExceededCap().getHeadroomMicros());
        assertEquals(2, declined.getAttempt());
        // resume after the first: the next one is the second, nothing lost, nothing repeated
        try (Subscription resumed = new Subscription(LedgerTestResource.SERVICE_TOKEN, approved.getPosition())) {
            Entry next = resumed.next();
            assertTrue(next.getPosition() == approved.getPosition() + 1);
            if (next.getAgentId().equals(a.id())) {
                assertEquals(declined.getEntryId(), next.getEntryId());
            }
        }
    }

    @Test
    void aSubscriptionEndsOnTheServerWhenTheClientCancels() {
        // streams earlier tests cancelled end on the server a moment later: counted from a stream
        // still ending, this one would never show as one more (a clean-clone CI run failed so)
        Fixture.await(Duration.ofSeconds(10), "the streams of earlier tests to end", () -> queries.activeStreams() == 0);
        int before = queries.activeStreams();
        Subscription s = new Subscription(LedgerTestResource.SERVICE_TOKEN, head());
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000);
        Fixture.await(Duration.ofSeconds(15), "the subscription to be served", () -> queries.activeStreams() == before + 1);
        assertTrue(s.next().getPosition() > 0);
        s.close();
        Fixture.await(Duration.ofSeconds(15), "the server to stop the cancelled stream", () -> queries.activeStreams() == before);
        a.ledger().pay(pay(1).build());
    }

    @Test
    void onlyTheServiceCredentialMayStream() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 0);
        for (String token : new String[] {LedgerTestResource.ADMIN_TOKEN, a.key()}) {
            try (Subscription s = new Subscription(token, 0)) {
                Fixture.expectError(Status.Code.PERMISSION_DENIED, s::next);
            }
        }
        try (Subscription s = new Subscription("not-a-token", 0)) {
            Fixture.expectError(Status.Code.UNAUTHENTICATED, s::next);
        }
        try (Subscription s = new Subscription(LedgerTestResource.SERVICE_TOKEN, -1)) {
            Fixture.expectError(Status.Code.INVALID_ARGUMENT, s::next);
        }
    }
}

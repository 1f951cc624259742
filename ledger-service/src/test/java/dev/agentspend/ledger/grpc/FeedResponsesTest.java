package dev.agentspend.ledger.grpc;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import dev.agentspend.ledger.store.FeedEntry;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import dev.agentspend.proto.ledger.v1.StreamEntriesResponse;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FeedResponsesTest {
    private static Entry entry(long position) {
        return Entry.newBuilder().setPosition(position).setEntryId("ent_" + position)
                .setEventType(EventType.EVENT_TYPE_PAYMENT_APPROVED).setAgentId("agt_a").setTool("llm.chat")
                .setTaskId("task-" + position).setAmountMicros(1_000 * position).setDecision(Decision.DECISION_APPROVED)
                .putLabels("team", "search").putLabels("région", "eu")
                .setRecordedTime(Timestamp.newBuilder().setSeconds(1_790_000_000L + position).setNanos(5))
                .build();
    }

    private static List<Entry> entries(int n) {
        List<Entry> page = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            page.add(entry(100 + i));
        }
        return page;
    }

    /** The page as the feed reads it: position and stored payload (the entry without its position). */
    private static List<FeedEntry> stored(List<Entry> entries) {
        return entries.stream().map(e -> new FeedEntry(e.getPosition(), e.toBuilder().clearPosition().build().toByteString()))
                .toList();
    }

    private static StreamEntriesResponse reparsed(StreamEntriesResponse r) throws InvalidProtocolBufferException {
        return StreamEntriesResponse.parseFrom(r.toByteArray());
    }

    @Test
    void zeroAndOneKeepTheOriginalFormOneEntryPerResponse() throws InvalidProtocolBufferException {
        List<Entry> page = entries(4);
        for (int perResponse : new int[] {0, 1}) {
            List<StreamEntriesResponse> out = FeedResponses.of(stored(page), perResponse);
            assertEquals(4, out.size());
            for (int i = 0; i < 4; i++) {
                StreamEntriesResponse expected = StreamEntriesResponse.newBuilder().setEntry(page.get(i)).build();
                assertArrayEquals(expected.toByteArray(), out.get(i).toByteArray());
                StreamEntriesResponse read = reparsed(out.get(i));
                assertTrue(read.hasEntry());
                assertEquals(0, read.getEntriesCount());
                assertEquals(page.get(i), read.getEntry());
            }
        }
    }

    @Test
    void aPageIsCutInOrderIntoResponsesOfAtMostTheAskedSize() throws InvalidProtocolBufferException {
        List<Entry> page = entries(7);
        List<StreamEntriesResponse> out = FeedResponses.of(stored(page), 3);
        assertEquals(3, out.size());
        List<Entry> seen = new ArrayList<>();
        for (int r = 0; r < out.size(); r++) {
            StreamEntriesResponse expected = StreamEntriesResponse.newBuilder()
                    .addAllEntries(page.subList(3 * r, Math.min(7, 3 * r + 3))).build();
            assertArrayEquals(expected.toByteArray(), out.get(r).toByteArray());
            assertEquals(expected.getSerializedSize(), out.get(r).getSerializedSize());
            StreamEntriesResponse read = reparsed(out.get(r));
            assertFalse(read.hasEntry());
            seen.addAll(read.getEntriesList());
        }
        assertEquals(page, seen);
        assertEquals(List.of(7), FeedResponses.of(stored(page), 1000).stream()
                .map(r -> {
                    try {
                        return reparsed(r).getEntriesCount();
                    } catch (InvalidProtocolBufferException e) {
                        throw new AssertionError(e);
                    }
                }).toList());
        assertTrue(FeedResponses.of(List.of(), 50).isEmpty());
    }

    @Test
    void theServiceClampsTheAskedSizeBeforeCutting() {
        assertThrows(IllegalArgumentException.class,
                () -> FeedResponses.of(stored(entries(2)), FeedResponses.MAX_ENTRIES_PER_RESPONSE + 1));
    }
}

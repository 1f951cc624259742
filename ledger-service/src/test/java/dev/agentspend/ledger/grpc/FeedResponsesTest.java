package dev.agentspend.ledger.grpc;

import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.StreamEntriesResponse;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FeedResponsesTest {
    private static List<Entry> page(int n) {
        List<Entry> page = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            page.add(Entry.newBuilder().setPosition(100 + i).setEntryId("ent-" + i).build());
        }
        return page;
    }

    @Test
    void zeroAndOneKeepTheOriginalFormOneEntryPerResponse() {
        for (int perResponse : new int[] {0, 1}) {
            List<StreamEntriesResponse> out = FeedResponses.of(page(4), perResponse);
            assertEquals(4, out.size());
            for (int i = 0; i < 4; i++) {
                assertTrue(out.get(i).hasEntry());
                assertEquals(0, out.get(i).getEntriesCount());
                assertEquals(101 + i, out.get(i).getEntry().getPosition());
            }
        }
    }

    @Test
    void aPageIsCutInOrderIntoResponsesOfAtMostTheAskedSize() {
        List<StreamEntriesResponse> out = FeedResponses.of(page(7), 3);
        assertEquals(List.of(3, 3, 1), out.stream().map(StreamEntriesResponse::getEntriesCount).toList());
        long expected = 101;
        for (StreamEntriesResponse r : out) {
            assertFalse(r.hasEntry());
            for (Entry e : r.getEntriesList()) {
                assertEquals(expected++, e.getPosition());
            }
        }
        assertEquals(108, expected);
        assertEquals(List.of(7), FeedResponses.of(page(7), 1000).stream().map(StreamEntriesResponse::getEntriesCount).toList());
        assertTrue(FeedResponses.of(List.of(), 50).isEmpty());
    }

    @Test
    void theServiceClampsTheAskedSizeBeforeCutting() {
        assertThrows(IllegalArgumentException.class, () -> FeedResponses.of(page(2), FeedResponses.MAX_ENTRIES_PER_RESPONSE + 1));
    }
}

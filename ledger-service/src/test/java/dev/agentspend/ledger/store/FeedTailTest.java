package dev.agentspend.ledger.store;

import com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tail serves a page only when it holds every position of it: anything it lacks is read from
 * the database, so a page from memory is never one with a hole.
 */
class FeedTailTest {

    private static FeedEntry entry(long position) {
        return new FeedEntry(position, ByteString.copyFromUtf8("entry " + position));
    }

    private static List<FeedEntry> entries(long from, long to) {
        return LongStream.rangeClosed(from, to).mapToObj(FeedTailTest::entry).toList();
    }

    private static List<Long> positions(List<FeedEntry> page) {
        return page.stream().map(FeedEntry::position).toList();
    }

    @Test
    void servesTheEntriesAfterAPositionUpToTheNewest() {
        FeedTail tail = new FeedTail(16);
        tail.add(entries(1, 5));
        assertEquals(List.of(3L, 4L, 5L), positions(tail.after(2, 10)));
        assertEquals(List.of(1L, 2L), positions(tail.after(0, 2)), "at most the page size");
        assertEquals(List.of(), tail.after(5, 10), "caught up: nothing newer is known here");
        assertEquals(List.of(), tail.after(9, 10), "past the newest");
    }

    @Test
    void aPositionItLacksSendsTheWholeReadToTheDatabase() {
        FeedTail tail = new FeedTail(16);
        tail.add(entries(1, 2));
        tail.add(entries(4, 5)); // 3: another replica's entry
        assertEquals(List.of(), tail.after(0, 10));
        assertEquals(List.of(1L, 2L), positions(tail.after(0, 2)), "a full page before the hole is whole");
        assertEquals(List.of(4L, 5L), positions(tail.after(3, 10)));
    }

    @Test
    void commitsReportedOutOfOrderAreServedOnceBothAreIn() {
        FeedTail tail = new FeedTail(16);
        tail.add(entries(4, 6)); // the later transaction's answer came first
        assertEquals(List.of(), tail.after(0, 10));
        tail.add(entries(1, 3));
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), positions(tail.after(0, 10)));
    }

    @Test
    void keepsOnlyTheNewestEntriesAndNeverAnOlderOneOverANewer() {
        FeedTail tail = new FeedTail(4);
        tail.add(entries(1, 10));
        assertEquals(List.of(), tail.after(5, 10), "6 is gone: its slot holds 10");
        assertEquals(List.of(7L, 8L, 9L, 10L), positions(tail.after(6, 10)));
        FeedEntry newer = tail.after(9, 1).get(0);
        tail.add(List.of(entry(6))); // an old commit reported late shares 10's slot
        assertSame(newer, tail.after(9, 1).get(0));
        assertEquals(List.of(), tail.after(5, 10));
        assertEquals(List.of(), tail.after(0, 100), "a page wider than the tail is never whole");
    }

    @Test
    void aSlotHoldingAnotherPositionIsAMiss() {
        FeedTail tail = new FeedTail(4);
        tail.add(entries(1, 6)); // 5 and 6 took the slots of 1 and 2
        assertEquals(List.of(), tail.after(0, 4), "1 and 2 are gone");
        assertEquals(List.of(3L, 4L, 5L, 6L), positions(tail.after(2, 4)));
    }

    @Test
    void aTailOfNoEntriesKeepsNothing() {
        FeedTail tail = new FeedTail(0);
        tail.add(entries(1, 3));
        assertEquals(List.of(), tail.after(0, 10));
    }

    @Test
    void itsSizeAndPagesAreBounded() {
        assertThrows(IllegalArgumentException.class, () -> new FeedTail(-1));
        assertThrows(IllegalArgumentException.class, () -> new FeedTail(FeedTail.MAX_ENTRIES + 1));
        assertThrows(IllegalArgumentException.class, () -> new FeedTail(4).after(0, 0));
        assertTrue(new FeedTail(FeedTail.MAX_ENTRIES).after(0, 1).isEmpty());
    }
}

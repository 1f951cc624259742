package dev.agentspend.ledger.store;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FeedEntryTest {

    @Test
    void positionThenStoredPayloadIsTheEntrysOwnEncodingAtEveryVarintLength() {
        Random random = new Random(8);
        long[] positions = {1, 127, 128, 16_383, 16_384, 1L << 21, (1L << 28) - 1, 1L << 35, 1L << 56, Long.MAX_VALUE};
        for (long position : positions) {
            for (int i = 0; i < 50; i++) {
                Entry.Builder e = Entry.newBuilder().setPosition(position).setEntryId("ent_" + random.nextInt())
                        .setEventType(EventType.forNumber(1 + random.nextInt(3))).setAgentId("agt_" + random.nextInt(1000))
                        .setAmountMicros(random.nextLong() >>> random.nextInt(64))
                        .setRecordedTime(Timestamp.newBuilder().setSeconds(random.nextInt(Integer.MAX_VALUE)));
                if (random.nextBoolean()) {
                    e.setTool("tool-" + random.nextInt(20)).putLabels("k" + random.nextInt(5), "v" + random.nextInt());
                }
                Entry entry = e.build();
                ByteString payload = entry.toBuilder().clearPosition().build().toByteString();
                assertEquals(entry.toByteString(), new FeedEntry(position, payload).entryBytes(), "position " + position);
            }
        }
    }

    @Test
    void aPositionIsAtLeastOne() {
        assertThrows(IllegalArgumentException.class, () -> new FeedEntry(0, ByteString.EMPTY));
        assertThrows(IllegalArgumentException.class, () -> new FeedEntry(-5, ByteString.EMPTY));
    }
}

package dev.agentspend.ledger.store;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.UnsafeByteOperations;
import dev.agentspend.proto.ledger.v1.Entry;

import java.io.IOException;
import java.util.Objects;

/**
 * One entry of the feed as stored: its position and its payload, the Entry's wire bytes without
 * the position (see {@link Tx}'s entries statement and migration V7). The feed passes it on without
 * parsing it: protobuf writes fields in field-number order and position is field 1, so the position
 * field followed by the payload is the whole Entry, byte for byte what {@code Entry.toByteArray()}
 * gives. Parsing every entry once per consumer and writing it out again was about 6% of the ledger's
 * CPU under load (JFR: parseEntry, Entry.build, StreamEntriesResponse.writeTo).
 */
public record FeedEntry(long position, ByteString payload) {
    public FeedEntry {
        if (position < 1) {
            throw new IllegalArgumentException("a feed position is at least 1, not " + position);
        }
        Objects.requireNonNull(payload, "payload");
    }

    /** The payload of a row as read, wrapped without another copy (the array is this entry's own). */
    static FeedEntry of(long position, byte[] payload) {
        return new FeedEntry(position, UnsafeByteOperations.unsafeWrap(payload));
    }

    /** The Entry's wire bytes, position included; shares the payload's bytes. */
    public ByteString entryBytes() {
        byte[] head = new byte[CodedOutputStream.computeInt64Size(Entry.POSITION_FIELD_NUMBER, position)];
        CodedOutputStream out = CodedOutputStream.newInstance(head);
        try {
            out.writeInt64(Entry.POSITION_FIELD_NUMBER, position);
        } catch (IOException e) {
            throw new IllegalStateException("the position field did not fit its computed size", e);
        }
        out.checkNoSpaceLeft();
        return UnsafeByteOperations.unsafeWrap(head).concat(payload);
    }
}

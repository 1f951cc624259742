package dev.agentspend.ledger.grpc;

import com.google.protobuf.UnknownFieldSet;
import dev.agentspend.ledger.store.FeedEntry;
import dev.agentspend.proto.ledger.v1.StreamEntriesResponse;

import java.util.ArrayList;
import java.util.List;

/**
 * Cuts a page of the entry feed into StreamEntries responses. A response costs an HTTP/2 frame, a
 * flush (a write system call) and a wake-up of the consumer, so a consumer that asks for it gets
 * many entries per response; one that does not gets the original form, one entry in `entry`.
 *
 * <p>The entries go out as stored, unparsed: each response carries its entries' wire bytes as the
 * value of the `entry` or `entries` field, held in the message's unknown-field set, which protobuf
 * writes out as it is. On the wire that is exactly the response built from parsed entries
 * (FeedResponsesTest compares the bytes); a consumer reads ordinary `entry`/`entries` fields.
 */
final class FeedResponses {
    /** The most entries one response carries, whatever the consumer asks. */
    static final int MAX_ENTRIES_PER_RESPONSE = 1000;

    private FeedResponses() {
    }

    static List<StreamEntriesResponse> of(List<FeedEntry> page, int perResponse) {
        if (perResponse > MAX_ENTRIES_PER_RESPONSE) {
            throw new IllegalArgumentException("at most " + MAX_ENTRIES_PER_RESPONSE + " entries per response, not " + perResponse);
        }
        if (perResponse <= 1) {
            List<StreamEntriesResponse> out = new ArrayList<>(page.size());
            for (FeedEntry e : page) {
                out.add(carrying(StreamEntriesResponse.ENTRY_FIELD_NUMBER, List.of(e)));
            }
            return out;
        }
        List<StreamEntriesResponse> out = new ArrayList<>(page.size() / perResponse + 1);
        for (int from = 0; from < page.size(); from += perResponse) {
            out.add(carrying(StreamEntriesResponse.ENTRIES_FIELD_NUMBER,
                    page.subList(from, Math.min(page.size(), from + perResponse))));
        }
        return out;
    }

    private static StreamEntriesResponse carrying(int field, List<FeedEntry> entries) {
        UnknownFieldSet.Field.Builder values = UnknownFieldSet.Field.newBuilder();
        for (FeedEntry e : entries) {
            values.addLengthDelimited(e.entryBytes());
        }
        return StreamEntriesResponse.newBuilder()
                .setUnknownFields(UnknownFieldSet.newBuilder().addField(field, values.build()).build())
                .build();
    }
}

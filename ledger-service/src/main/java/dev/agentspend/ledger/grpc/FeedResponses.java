package dev.agentspend.ledger.grpc;

import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.StreamEntriesResponse;

import java.util.ArrayList;
import java.util.List;

/**
 * Cuts a page of the entry feed into StreamEntries responses. A response costs an HTTP/2 frame, a
 * flush (a write system call) and a wake-up of the consumer, so a consumer that asks for it gets
 * many entries per response; one that does not gets the original form, one entry in `entry`.
 */
final class FeedResponses {
    /** The most entries one response carries, whatever the consumer asks. */
    static final int MAX_ENTRIES_PER_RESPONSE = 1000;

    private FeedResponses() {
    }

    static List<StreamEntriesResponse> of(List<Entry> page, int perResponse) {
        if (perResponse > MAX_ENTRIES_PER_RESPONSE) {
            throw new IllegalArgumentException("at most " + MAX_ENTRIES_PER_RESPONSE + " entries per response, not " + perResponse);
        }
        if (perResponse <= 1) {
            List<StreamEntriesResponse> out = new ArrayList<>(page.size());
            for (Entry e : page) {
                out.add(StreamEntriesResponse.newBuilder().setEntry(e).build());
            }
            return out;
        }
        List<StreamEntriesResponse> out = new ArrayList<>(page.size() / perResponse + 1);
        for (int from = 0; from < page.size(); from += perResponse) {
            out.add(StreamEntriesResponse.newBuilder()
                    .addAllEntries(page.subList(from, Math.min(page.size(), from + perResponse)))
                    .build());
        }
        return out;
    }
}

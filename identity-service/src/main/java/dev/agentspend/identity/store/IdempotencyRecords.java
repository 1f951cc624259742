package dev.agentspend.identity.store;

import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;

import java.time.Instant;
import java.util.Optional;

/** SQL of {@code identity.idempotency_records}: what a request_id was first used for, and its answer. */
public final class IdempotencyRecords {
    private IdempotencyRecords() {
    }

    public record Record(String method, byte[] requestSha256, byte[] response) {
    }

    public static Uni<Optional<Record>> find(SqlClient db, String requestId) {
        return db.preparedQuery("SELECT method, request_sha256, response FROM identity.idempotency_records WHERE request_id = $1")
                .execute(Tuple.of(requestId))
                .map(rows -> {
                    if (!rows.iterator().hasNext()) {
                        return Optional.empty();
                    }
                    Row row = rows.iterator().next();
                    return Optional.of(new Record(row.getString("method"), row.getBuffer("request_sha256").getBytes(),
                            row.getBuffer("response").getBytes()));
                });
    }

    public static Uni<Void> insert(SqlClient db, String requestId, String method, byte[] requestSha256,
                                   byte[] response, Instant now) {
        return db.preparedQuery("INSERT INTO identity.idempotency_records (request_id, method, request_sha256, response,"
                        + " create_time) VALUES ($1, $2, $3, $4, $5)")
                .execute(Tuple.of(requestId, method, Buffer.buffer(requestSha256), Buffer.buffer(response), Times.toDb(now)))
                .replaceWithVoid();
    }
}

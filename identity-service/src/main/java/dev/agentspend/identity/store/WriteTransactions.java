package dev.agentspend.identity.store;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.security.MessageDigest;
import java.time.Instant;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * Runs every change of the identity store: one transaction that takes the identity write lock,
 * honours the request_id, does the work and records its answer.
 *
 * <p>Why one global lock: identity writes are rare (people and alert rules change policies), and
 * serializing them makes the feed's version order equal to commit order, which is what lets a
 * watcher resume from a version without missing a change that committed late. It also makes
 * duplicate request_ids race safely: the second one waits, then finds the first one's record.
 */
@ApplicationScoped
public class WriteTransactions {
    /** Any constant works, as long as every replica and nothing else uses it. */
    static final long WRITE_LOCK_KEY = 0x1D_E7_17_01L;
    /** A write waiting longer than this for the lock fails UNAVAILABLE instead of piling up. */
    private static final String LOCK_TIMEOUT = "10s";

    @Inject
    Pool pool;
    @Inject
    FeedSignal feedSignal;

    /** The open transaction and the instant every timestamp of this change uses. */
    public record Tx(SqlConnection db, Instant now) {
    }

    /**
     * @param replayable the form of the response stored for replays (for key creation: without the secret)
     */
    public <R extends Message> Uni<R> idempotent(String method, String requestId, Message request, Parser<R> parser,
                                                 UnaryOperator<R> replayable, Function<Tx, Uni<R>> work) {
        byte[] requestSha256 = sha256(ProtoBytes.deterministic(request));
        return pool.withTransaction(db -> lock(db)
                        .chain(() -> IdempotencyRecords.find(db, requestId))
                        .chain(found -> {
                            if (found.isPresent()) {
                                return Uni.createFrom().item(replay(found.get(), method, requestSha256, requestId, parser));
                            }
                            Tx tx = new Tx(db, Times.now());
                            return work.apply(tx).call(response -> IdempotencyRecords.insert(db, requestId, method,
                                    requestSha256, replayable.apply(response).toByteArray(), tx.now()));
                        }))
                .invoke(feedSignal::committed)
                .onFailure().transform(StoreErrors::translate);
    }

    /** Work that must not interleave with any change (feed compaction), without a request_id. */
    public <T> Uni<T> locked(Function<Tx, Uni<T>> work) {
        return pool.withTransaction(db -> lock(db).chain(() -> work.apply(new Tx(db, Times.now()))))
                .onFailure().transform(StoreErrors::translate);
    }

    private static Uni<Void> lock(SqlConnection db) {
        return db.query("SELECT set_config('lock_timeout', '" + LOCK_TIMEOUT + "', true), pg_advisory_xact_lock("
                + WRITE_LOCK_KEY + ")").execute().replaceWithVoid();
    }

    private static <R extends Message> R replay(IdempotencyRecords.Record record, String method, byte[] requestSha256,
                                                String requestId, Parser<R> parser) {
        if (!record.method().equals(method) || !MessageDigest.isEqual(record.requestSha256(), requestSha256)) {
            throw ApiException.of(ErrorCode.ALREADY_EXISTS, "REQUEST_ID_REUSED", "request_id '" + requestId
                    + "' was already used for a different request; use a new request_id for a new change");
        }
        try {
            return parser.parseFrom(record.response());
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("stored response of " + method + " does not parse", e);
        }
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

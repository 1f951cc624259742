package dev.agentspend.identity.store;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.agentspend.proto.identity.v1.AuditEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The append-only audit log. Values are the API's own messages as JSON; none of them carries a
 * secret (Agent, Team and ApiKey have no secret fields), which is why only those are accepted.
 */
public final class AuditLog {
    private static final JsonFormat.Printer JSON = JsonFormat.printer().omittingInsignificantWhitespace();

    private AuditLog() {
    }

    /** One entry to append; old or new value may be null (creation, deletion). */
    public record Entry(String actor, String action, String subjectType, String subjectId,
                        MessageOrBuilder oldValue, MessageOrBuilder newValue, String reason, String requestId) {
    }

    public static Uni<Void> append(SqlClient db, Instant now, Entry e) {
        return db.preparedQuery("INSERT INTO identity.audit_events (event_time, actor, action, subject_type, subject_id,"
                        + " old_value_json, new_value_json, reason, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .execute(Tuple.tuple().addValue(Times.toDb(now)).addString(e.actor()).addString(e.action())
                        .addString(e.subjectType()).addString(e.subjectId()).addString(json(e.oldValue()))
                        .addString(json(e.newValue())).addString(e.reason()).addString(e.requestId()))
                .replaceWithVoid();
    }

    /** Newest first, strictly before {@code beforeSequence} when it is positive. */
    public static Uni<List<AuditEvent>> list(SqlClient db, long beforeSequence, String subjectId, int limit) {
        StringBuilder sql = new StringBuilder("SELECT * FROM identity.audit_events WHERE sequence < $1");
        Tuple args = Tuple.tuple().addLong(beforeSequence > 0 ? beforeSequence : Long.MAX_VALUE);
        if (subjectId != null && !subjectId.isEmpty()) {
            args.addString(subjectId);
            sql.append(" AND subject_id = $2");
        }
        args.addInteger(limit);
        sql.append(" ORDER BY sequence DESC LIMIT $").append(args.size());
        return db.preparedQuery(sql.toString()).execute(args).map(rows -> {
            List<AuditEvent> out = new ArrayList<>();
            for (Row row : rows) {
                out.add(AuditEvent.newBuilder().setSequence(row.getLong("sequence"))
                        .setEventTime(Times.toProto(row.getOffsetDateTime("event_time")))
                        .setActor(row.getString("actor")).setAction(row.getString("action"))
                        .setSubjectType(row.getString("subject_type")).setSubjectId(row.getString("subject_id"))
                        .setOldValueJson(row.getString("old_value_json")).setNewValueJson(row.getString("new_value_json"))
                        .setReason(row.getString("reason")).setRequestId(row.getString("request_id")).build());
            }
            return out;
        });
    }

    private static String json(MessageOrBuilder value) {
        if (value == null) {
            return "";
        }
        try {
            return JSON.print(value);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("audit value does not print as JSON", e);
        }
    }
}

package dev.agentspend.identity.store;

import dev.agentspend.proto.identity.v1.Agent;
import dev.agentspend.proto.identity.v1.AgentStatus;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** SQL of the {@code identity.agents} table. */
public final class AgentRows {
    private AgentRows() {
    }

    public static Uni<Optional<Agent>> findById(SqlClient db, String id) {
        return db.preparedQuery("SELECT body FROM identity.agents WHERE id = $1").execute(Tuple.of(id))
                .map(rows -> rows.iterator().hasNext() ? Optional.of(parse(rows.iterator().next())) : Optional.empty());
    }

    /** By id ({@code agt_...}) or else by handle. */
    public static Uni<Optional<Agent>> findByIdOrHandle(SqlClient db, String idOrHandle) {
        String column = idOrHandle.startsWith("agt_") ? "id" : "handle";
        return db.preparedQuery("SELECT body FROM identity.agents WHERE " + column + " = $1")
                .execute(Tuple.of(idOrHandle))
                .map(rows -> rows.iterator().hasNext() ? Optional.of(parse(rows.iterator().next())) : Optional.empty());
    }

    public static Uni<Boolean> handleExists(SqlClient db, String handle) {
        return db.preparedQuery("SELECT 1 FROM identity.agents WHERE handle = $1").execute(Tuple.of(handle))
                .map(rows -> rows.size() > 0);
    }

    public static Uni<Void> insert(SqlClient db, Agent a) {
        return db.preparedQuery("INSERT INTO identity.agents (id, handle, team_id, status, currency_code, version, body)"
                        + " VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .execute(Tuple.tuple().addString(a.getId()).addString(a.getHandle()).addString(teamOrNull(a))
                        .addString(statusName(a.getStatus())).addString(a.getCurrencyCode())
                        .addLong(a.getVersion()).addValue(ProtoBytes.toBuffer(a)))
                .replaceWithVoid();
    }

    /** Writes the new state; the previous version guards against a write that skipped the lock. */
    public static Uni<Void> update(SqlClient db, Agent a, long previousVersion) {
        return db.preparedQuery("UPDATE identity.agents SET team_id = $2, status = $3, version = $4, body = $5"
                        + " WHERE id = $1 AND version = $6")
                .execute(Tuple.tuple().addString(a.getId()).addString(teamOrNull(a))
                        .addString(statusName(a.getStatus())).addLong(a.getVersion())
                        .addValue(ProtoBytes.toBuffer(a)).addLong(previousVersion))
                .invoke(rows -> {
                    if (rows.rowCount() != 1) {
                        throw new IllegalStateException("agent " + a.getId() + " changed outside the write lock");
                    }
                })
                .replaceWithVoid();
    }

    /** One page ordered by handle, after {@code afterHandle} (exclusive) when given. */
    public static Uni<List<Agent>> list(SqlClient db, String afterHandle, String teamId, AgentStatus status, int limit) {
        StringBuilder sql = new StringBuilder("SELECT body FROM identity.agents WHERE handle > $1");
        Tuple args = Tuple.tuple().addString(afterHandle == null ? "" : afterHandle);
        if (teamId != null && !teamId.isEmpty()) {
            args.addString(teamId);
            sql.append(" AND team_id = $").append(args.size());
        }
        if (status != null && status != AgentStatus.AGENT_STATUS_UNSPECIFIED) {
            args.addString(statusName(status));
            sql.append(" AND status = $").append(args.size());
        }
        args.addInteger(limit);
        sql.append(" ORDER BY handle LIMIT $").append(args.size());
        return db.preparedQuery(sql.toString()).execute(args).map(rows -> {
            List<Agent> out = new ArrayList<>();
            for (Row row : rows) {
                out.add(parse(row));
            }
            return out;
        });
    }

    public static String statusName(AgentStatus status) {
        return status.name().substring("AGENT_STATUS_".length());
    }

    private static String teamOrNull(Agent a) {
        return a.getTeamId().isEmpty() ? null : a.getTeamId();
    }

    private static Agent parse(Row row) {
        return ProtoBytes.parse(Agent.parser(), row.getBuffer("body"));
    }
}

package dev.agentspend.identity.store;

import dev.agentspend.proto.identity.v1.Team;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** SQL of the {@code identity.teams} table. */
public final class TeamRows {
    private TeamRows() {
    }

    public static Uni<Optional<Team>> findById(SqlClient db, String id) {
        return db.preparedQuery("SELECT body FROM identity.teams WHERE id = $1").execute(Tuple.of(id))
                .map(rows -> rows.iterator().hasNext() ? Optional.of(parse(rows.iterator().next())) : Optional.empty());
    }

    /** By id ({@code team_...}) or else by name. */
    public static Uni<Optional<Team>> findByIdOrName(SqlClient db, String idOrName) {
        String column = idOrName.startsWith("team_") ? "id" : "name";
        return db.preparedQuery("SELECT body FROM identity.teams WHERE " + column + " = $1").execute(Tuple.of(idOrName))
                .map(rows -> rows.iterator().hasNext() ? Optional.of(parse(rows.iterator().next())) : Optional.empty());
    }

    public static Uni<Boolean> nameExists(SqlClient db, String name) {
        return db.preparedQuery("SELECT 1 FROM identity.teams WHERE name = $1").execute(Tuple.of(name))
                .map(rows -> rows.size() > 0);
    }

    public static Uni<Void> insert(SqlClient db, Team t) {
        return db.preparedQuery("INSERT INTO identity.teams (id, name, currency_code, version, body) VALUES ($1, $2, $3, $4, $5)")
                .execute(Tuple.tuple().addString(t.getId()).addString(t.getName()).addString(t.getCurrencyCode())
                        .addLong(t.getVersion()).addValue(ProtoBytes.toBuffer(t)))
                .replaceWithVoid();
    }

    public static Uni<Void> update(SqlClient db, Team t, long previousVersion) {
        return db.preparedQuery("UPDATE identity.teams SET version = $2, body = $3 WHERE id = $1 AND version = $4")
                .execute(Tuple.tuple().addString(t.getId()).addLong(t.getVersion()).addValue(ProtoBytes.toBuffer(t))
                        .addLong(previousVersion))
                .invoke(rows -> {
                    if (rows.rowCount() != 1) {
                        throw new IllegalStateException("team " + t.getId() + " changed outside the write lock");
                    }
                })
                .replaceWithVoid();
    }

    public static Uni<List<Team>> list(SqlClient db, String afterName, int limit) {
        return db.preparedQuery("SELECT body FROM identity.teams WHERE name > $1 ORDER BY name LIMIT $2")
                .execute(Tuple.of(afterName == null ? "" : afterName, limit))
                .map(rows -> {
                    List<Team> out = new ArrayList<>();
                    for (Row row : rows) {
                        out.add(parse(row));
                    }
                    return out;
                });
    }

    private static Team parse(Row row) {
        return ProtoBytes.parse(Team.parser(), row.getBuffer("body"));
    }
}

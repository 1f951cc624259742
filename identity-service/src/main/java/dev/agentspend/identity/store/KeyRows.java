package dev.agentspend.identity.store;

import com.google.protobuf.ByteString;
import dev.agentspend.proto.identity.v1.Agent;
import dev.agentspend.proto.identity.v1.ApiKey;
import dev.agentspend.proto.identity.v1.KeyVerifier;
import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** SQL of the {@code identity.api_keys} table. Only the verifier (SHA-256 of the secret) is stored. */
public final class KeyRows {
    private static final String COLUMNS = "key_id, agent_id, description, create_time, expire_time, revoke_time";

    private KeyRows() {
    }

    /** A key with its agent, as Authenticate needs it. */
    public record KeyWithAgent(ApiKey key, byte[] secretSha256, Agent agent) {
    }

    public static Uni<Void> insert(SqlClient db, ApiKey key, byte[] secretSha256) {
        return db.preparedQuery("INSERT INTO identity.api_keys (key_id, agent_id, secret_sha256, description,"
                        + " create_time, expire_time, revoke_time) VALUES ($1, $2, $3, $4, $5, $6, NULL)")
                .execute(Tuple.tuple().addString(key.getKeyId()).addString(key.getAgentId())
                        .addValue(Buffer.buffer(secretSha256)).addString(key.getDescription())
                        .addValue(Times.toDb(key.getCreateTime()))
                        .addValue(key.hasExpireTime() ? Times.toDb(key.getExpireTime()) : null))
                .replaceWithVoid();
    }

    public static Uni<Optional<ApiKey>> findById(SqlClient db, String keyId) {
        return db.preparedQuery("SELECT " + COLUMNS + " FROM identity.api_keys WHERE key_id = $1")
                .execute(Tuple.of(keyId))
                .map(rows -> rows.iterator().hasNext() ? Optional.of(toApiKey(rows.iterator().next())) : Optional.empty());
    }

    public static Uni<Optional<KeyWithAgent>> findWithAgent(SqlClient db, String keyId) {
        return db.preparedQuery("SELECT k.key_id, k.agent_id, k.description, k.create_time, k.expire_time,"
                        + " k.revoke_time, k.secret_sha256, a.body FROM identity.api_keys k"
                        + " JOIN identity.agents a ON a.id = k.agent_id WHERE k.key_id = $1")
                .execute(Tuple.of(keyId))
                .map(rows -> {
                    if (!rows.iterator().hasNext()) {
                        return Optional.empty();
                    }
                    Row row = rows.iterator().next();
                    return Optional.of(new KeyWithAgent(toApiKey(row), row.getBuffer("secret_sha256").getBytes(),
                            ProtoBytes.parse(Agent.parser(), row.getBuffer("body"))));
                });
    }

    /** Keys ordered by key id; without {@code showInactive} only keys neither revoked nor expired. */
    public static Uni<List<ApiKey>> list(SqlClient db, String agentId, String afterKeyId, boolean showInactive,
                                        Instant now, int limit) {
        String filter = showInactive ? "" : " AND revoke_time IS NULL AND (expire_time IS NULL OR expire_time > $4)";
        Tuple args = Tuple.tuple().addString(agentId).addString(afterKeyId == null ? "" : afterKeyId).addInteger(limit);
        if (!showInactive) {
            args.addValue(Times.toDb(now));
        }
        return db.preparedQuery("SELECT " + COLUMNS + " FROM identity.api_keys WHERE agent_id = $1 AND key_id > $2"
                        + filter + " ORDER BY key_id LIMIT $3")
                .execute(args)
                .map(rows -> {
                    List<ApiKey> out = new ArrayList<>();
                    for (Row row : rows) {
                        out.add(toApiKey(row));
                    }
                    return out;
                });
    }

    /**
     * The keys of an agent usable at {@code now} (neither revoked nor expired), with their verifiers:
     * what the policy feed carries. Expired keys are left out as revoked ones are: they no longer
     * count against {@link dev.agentspend.identity.domain.Limits#MAX_KEYS_PER_AGENT}, so with them an agent that rotates short-lived
     * keys would carry every key it ever had in each of its feed messages, without bound.
     */
    public static Uni<List<KeyVerifier>> verifiers(SqlClient db, String agentId, Instant now) {
        return db.preparedQuery("SELECT key_id, secret_sha256, expire_time FROM identity.api_keys"
                        + " WHERE agent_id = $1 AND revoke_time IS NULL AND (expire_time IS NULL OR expire_time > $2)"
                        + " ORDER BY key_id")
                .execute(Tuple.of(agentId, Times.toDb(now)))
                .map(rows -> {
                    List<KeyVerifier> out = new ArrayList<>();
                    for (Row row : rows) {
                        KeyVerifier.Builder v = KeyVerifier.newBuilder().setKeyId(row.getString("key_id"))
                                .setSecretSha256(ByteString.copyFrom(row.getBuffer("secret_sha256").getBytes()));
                        OffsetDateTime expire = row.getOffsetDateTime("expire_time");
                        if (expire != null) {
                            v.setExpireTime(Times.toProto(expire));
                        }
                        out.add(v.build());
                    }
                    return out;
                });
    }

    public static Uni<Integer> countUsable(SqlClient db, String agentId, Instant now) {
        return db.preparedQuery("SELECT count(*) AS n FROM identity.api_keys WHERE agent_id = $1"
                        + " AND revoke_time IS NULL AND (expire_time IS NULL OR expire_time > $2)")
                .execute(Tuple.of(agentId, Times.toDb(now)))
                .map(rows -> rows.iterator().next().getLong("n").intValue());
    }

    /** Revokes every key of the agent that is not revoked yet and returns them as they are now. */
    public static Uni<List<ApiKey>> revokeAll(SqlClient db, String agentId, Instant now) {
        return db.preparedQuery("UPDATE identity.api_keys SET revoke_time = $2 WHERE agent_id = $1"
                        + " AND revoke_time IS NULL RETURNING " + COLUMNS)
                .execute(Tuple.of(agentId, Times.toDb(now)))
                .map(rows -> {
                    List<ApiKey> out = new ArrayList<>();
                    for (Row row : rows) {
                        out.add(toApiKey(row));
                    }
                    out.sort(java.util.Comparator.comparing(ApiKey::getKeyId));
                    return out;
                });
    }

    public static Uni<Void> revoke(SqlClient db, String keyId, Instant now) {
        return db.preparedQuery("UPDATE identity.api_keys SET revoke_time = $2 WHERE key_id = $1 AND revoke_time IS NULL")
                .execute(Tuple.of(keyId, Times.toDb(now)))
                .replaceWithVoid();
    }

    private static ApiKey toApiKey(Row row) {
        ApiKey.Builder k = ApiKey.newBuilder().setKeyId(row.getString("key_id")).setAgentId(row.getString("agent_id"))
                .setDescription(row.getString("description"))
                .setCreateTime(Times.toProto(row.getOffsetDateTime("create_time")));
        OffsetDateTime expire = row.getOffsetDateTime("expire_time");
        if (expire != null) {
            k.setExpireTime(Times.toProto(expire));
        }
        OffsetDateTime revoke = row.getOffsetDateTime("revoke_time");
        if (revoke != null) {
            k.setRevokeTime(Times.toProto(revoke));
        }
        return k.build();
    }
}

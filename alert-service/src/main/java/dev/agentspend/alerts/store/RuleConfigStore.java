package dev.agentspend.alerts.store;

import dev.agentspend.alerts.domain.RuleConfigSet;
import dev.agentspend.alerts.domain.RuleOverride;
import dev.agentspend.alerts.domain.RuleType;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Stored rule configurations (fleet, team and agent overrides). */
@ApplicationScoped
public class RuleConfigStore {
    @Inject
    Pool pool;

    public record Stored(RuleConfigSet.Key key, RuleOverride override, Instant updateTime) {
    }

    public Uni<Stored> put(RuleConfigSet.Key key, RuleOverride override, Instant now) {
        return pool.preparedQuery("insert into rule_configs (scope, scope_id, rule, config, update_time) values ($1, $2, $3, $4::text::jsonb, $5) "
                        + "on conflict (scope, scope_id, rule) do update set config = excluded.config, update_time = excluded.update_time")
                .execute(Tuple.of(key.scope().name(), key.scopeId(), key.rule().name(), Json.write(override), AlertRecords.odt(now)))
                .replaceWith(new Stored(key, override, now));
    }

    public Uni<Boolean> delete(RuleConfigSet.Key key) {
        return pool.preparedQuery("delete from rule_configs where scope = $1 and scope_id = $2 and rule = $3")
                .execute(Tuple.of(key.scope().name(), key.scopeId(), key.rule().name()))
                .map(rows -> rows.rowCount() > 0);
    }

    /** Ordered by scope, scope id and rule; the cursor is the last row's `scope|scope_id|rule`. */
    public Uni<List<Stored>> list(String scope, String scopeId, String after, int limit) {
        return pool.preparedQuery("select scope, scope_id, rule, config::text as config, update_time from rule_configs "
                        + "where ($1 = '' or scope = $1) and ($2 = '' or scope_id = $2) and (scope || '|' || scope_id || '|' || rule) > $3 "
                        + "order by scope || '|' || scope_id || '|' || rule limit $4")
                .execute(Tuple.of(scope, scopeId, after, limit))
                .map(rows -> {
                    List<Stored> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new Stored(new RuleConfigSet.Key(RuleConfigSet.Scope.valueOf(r.getString("scope")),
                                r.getString("scope_id"), RuleType.valueOf(r.getString("rule"))),
                                Json.read(r.getString("config"), RuleOverride.class),
                                r.getOffsetDateTime("update_time").toInstant()));
                    }
                    return out;
                });
    }

    public Uni<RuleConfigSet> all() {
        return pool.withConnection(ConsumerStore::configs);
    }
}

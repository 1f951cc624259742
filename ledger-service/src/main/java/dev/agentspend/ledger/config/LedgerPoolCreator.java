package dev.agentspend.ledger.config;

import dev.agentspend.common.db.StatementCache;
import io.quarkus.reactive.pg.client.PgPoolCreator;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnectOptions;
import jakarta.inject.Singleton;

import java.util.ArrayList;
import java.util.List;

/**
 * The ledger's connection pool, as Quarkus configures it, with two changes for the payment path.
 *
 * <p>Every statement is prepared once per connection ({@link StatementCache}). Without the cache PostgreSQL parsed and
 * planned each statement on every execution (perf under the benchmark: base_yyparse, catalog
 * lookups and plan copying were the largest symbols of the ledger's backends), and Vert.x's cache
 * skips statements longer than 2,048 characters by default, which the counter statements are
 * (CounterStore: about 2,400 and 4,700).
 *
 * <p>Each new connection gets {@link FlushCoalescing}: the client writes and flushes each
 * statement on its own, so a batch's pipelined statements went out as one write call each.
 */
@Singleton
public class LedgerPoolCreator implements PgPoolCreator {
    @Override
    public Pool create(Input input) {
        for (PgConnectOptions o : input.pgConnectOptionsList()) {
            StatementCache.enable(o);
        }
        List<SqlConnectOptions> servers = new ArrayList<>(input.pgConnectOptionsList());
        return PgBuilder.pool().with(input.poolOptions()).connectingTo(servers).using(input.vertx())
                .withConnectHandler(conn -> {
                    // a connect handler owns the new connection until it closes it: closing hands it to the pool
                    try {
                        FlushCoalescing.install(conn);
                    } finally {
                        conn.close();
                    }
                })
                .build();
    }
}

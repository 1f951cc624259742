package dev.agentspend.common.db;

import io.vertx.sqlclient.SqlConnectOptions;

/**
 * Statements prepared once per connection. Without a cache the reactive client sends every
 * statement unnamed, and PostgreSQL parses, analyzes and plans it on each execution (perf on the
 * alert consumer's backend under the benchmark: the SQL parser and lexer at the top of its
 * profile). Quarkus's pools turn the cache on with
 * {@code quarkus.datasource.reactive.cache-prepared-statements}; a connection a service opens on
 * its own (a feed consumer's, which holds an advisory lock for exactly its session) needs it here.
 */
public final class StatementCache {
    /** Longer than any statement a service sends: Vert.x caches none longer than its limit (2,048 by default). */
    public static final int SQL_LIMIT_CHARS = 16_384;
    /** More than any service's distinct statements, so none is evicted and prepared again. */
    public static final int MAX_STATEMENTS = 512;

    private StatementCache() {
    }

    /** Turns the cache on for every connection opened with {@code options}. */
    public static <T extends SqlConnectOptions> T enable(T options) {
        options.setCachePreparedStatements(true)
                .setPreparedStatementCacheMaxSize(MAX_STATEMENTS)
                .setPreparedStatementCacheSqlLimit(SQL_LIMIT_CHARS);
        return options;
    }
}

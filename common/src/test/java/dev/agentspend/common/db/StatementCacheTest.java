package dev.agentspend.common.db;

import io.vertx.sqlclient.SqlConnectOptions;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StatementCacheTest {
    @Test
    void cachesEveryStatementAServiceSends() {
        SqlConnectOptions options = new SqlConnectOptions();
        assertFalse(options.getCachePreparedStatements(), "the client's default: nothing cached");
        assertFalse(options.getPreparedStatementCacheSqlFilter().test("x".repeat(4_700)), "nor anything that long");
        assertSame(options, StatementCache.enable(options));
        assertTrue(options.getCachePreparedStatements());
        assertEquals(StatementCache.MAX_STATEMENTS, options.getPreparedStatementCacheMaxSize());
        // the counter statements of the ledger are about 4,700 characters
        assertTrue(options.getPreparedStatementCacheSqlFilter().test("x".repeat(4_700)));
        assertFalse(options.getPreparedStatementCacheSqlFilter().test("x".repeat(StatementCache.SQL_LIMIT_CHARS + 1)));
    }
}

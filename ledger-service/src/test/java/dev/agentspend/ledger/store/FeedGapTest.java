package dev.agentspend.ledger.store;

import dev.agentspend.ledger.config.LedgerConfig;
import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.PgPool;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.PoolOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The entry feed on a database of its own with a gap in its positions, wider than a page: the
 * ledger writes none (VerifyLedger reports one as a "positions" violation), but a partial restore
 * or a hand repair could leave one, and the feed's range read alone would find nothing past it
 * forever, stalling analytics and alerts. The feed reads past it.
 */
class FeedGapTest {
    private static final int PAGE = 500;
    private static final long GAP = 1_200;

    @Test
    @Timeout(60)
    void theFeedReadsPastAGapWiderThanAPage() throws Exception {
        String url = MigrationTests.databaseAt("ledger_feed_gap_test", "7");
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            for (long position : new long[]{1, 2, 3 + GAP}) {
                insertDeclinedEntry(c, position, "ent_gap" + position, "agt_a");
            }
            st.executeUpdate("UPDATE ledger.feed_position SET last_position = " + (3 + GAP) + " WHERE id = 1");
        }
        Vertx vertx = Vertx.vertx();
        EmbeddedDatabase server = EmbeddedPostgresTestResource.server();
        Pool pool = PgPool.pool(vertx, new PgConnectOptions().setHost("localhost").setPort(server.port())
                .setDatabase("ledger_feed_gap_test").setUser(EmbeddedDatabase.USER), new PoolOptions().setMaxSize(2));
        try {
            LedgerQueries queries = new LedgerQueries();
            queries.pool = pool;
            queries.config = config(PAGE, Duration.ofMillis(10));
            queries.notifier = new FeedNotifier();
            queries.notifier.vertx = vertx;
            queries.registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
            queries.registerMeters();
            List<Long> positions = new ArrayList<>();
            queries.pages(0).select().first(2).subscribe().asStream()
                    .forEach(page -> page.forEach(e -> positions.add(e.position())));
            assertEquals(List.of(1L, 2L, 3 + GAP), positions);
        } finally {
            pool.closeAndAwait();
            vertx.closeAndAwait();
        }
    }

    /** Writes a declined payment's entry at {@code position}, as another writer would; returns its payload. */
    static byte[] insertDeclinedEntry(Connection c, long position, String entryId, String agentId) throws java.sql.SQLException {
        byte[] payload = Entry.newBuilder().setEntryId(entryId).setEventType(EventType.EVENT_TYPE_PAYMENT_DECLINED)
                .setAgentId(agentId).build().toByteArray();
        try (PreparedStatement insert = c.prepareStatement("INSERT INTO ledger.entries (position, entry_id, event_type, "
                + "agent_id, team_id, tool, task_id, decision, amount_micros, spend_micros, currency_code, hold_id, "
                + "reversed_entry_id, recorded_time, payload) VALUES (?, ?, 2, ?, '', '', '', 2, 1, 0, 'USD', '', '', now(), ?)")) {
            insert.setLong(1, position);
            insert.setString(2, entryId);
            insert.setString(3, agentId);
            insert.setBytes(4, payload);
            insert.executeUpdate();
        }
        return payload;
    }

    /** The two settings the feed reads; any other is a mistake in a test that uses it. */
    static LedgerConfig config(int batch, Duration poll) {
        LedgerConfig.Ledger ledger = (LedgerConfig.Ledger) Proxy.newProxyInstance(FeedGapTest.class.getClassLoader(),
                new Class<?>[]{LedgerConfig.Ledger.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "streamBatchSize" -> batch;
                    case "streamPollInterval" -> poll;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
        return (LedgerConfig) Proxy.newProxyInstance(FeedGapTest.class.getClassLoader(), new Class<?>[]{LedgerConfig.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("ledger")) {
                        return ledger;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }
}

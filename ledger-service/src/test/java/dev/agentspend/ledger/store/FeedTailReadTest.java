package dev.agentspend.ledger.store;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.PgPool;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.PoolOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.reflect.Field;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The feed on a database of its own, written by two replicas: entries "this" replica committed
 * (in the database and in its tail) and entries another replica committed between them (in the
 * database only). A subscriber gets every position once, in order, each with the database's
 * bytes; pages this replica holds whole come from memory.
 */
class FeedTailReadTest {
    private static final int PAGE = 500;

    @Test
    @Timeout(60)
    void anotherReplicasEntriesBetweenThisOnesAreReadFromTheDatabase() throws Exception {
        String url = MigrationTests.databaseAt("ledger_feed_tail_test", "10");
        List<FeedEntry> committedHere = new ArrayList<>();
        List<FeedEntry> inDatabase = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            for (long position = 1; position <= 12; position++) {
                // positions 4 and 9 to 10: another replica's
                boolean here = position != 4 && position != 9 && position != 10;
                byte[] payload = FeedGapTest.insertDeclinedEntry(c, position, "ent_tail" + position, here ? "agt_here" : "agt_there");
                FeedEntry e = FeedEntry.of(position, payload);
                inDatabase.add(e);
                if (here) {
                    committedHere.add(e);
                }
            }
            st.executeUpdate("UPDATE ledger.feed_position SET last_position = 12 WHERE id = 1");
        }
        Vertx vertx = Vertx.vertx();
        EmbeddedDatabase server = EmbeddedPostgresTestResource.server();
        Pool pool = PgPool.pool(vertx, new PgConnectOptions().setHost("localhost").setPort(server.port())
                .setDatabase("ledger_feed_tail_test").setUser(EmbeddedDatabase.USER), new PoolOptions().setMaxSize(2));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try {
            LedgerQueries queries = new LedgerQueries();
            queries.pool = pool;
            queries.config = FeedGapTest.config(PAGE, Duration.ofMillis(10));
            queries.notifier = new FeedNotifier();
            queries.notifier.vertx = vertx;
            Field tail = FeedNotifier.class.getDeclaredField("tail");
            tail.setAccessible(true);
            tail.set(queries.notifier, new FeedTail(64));
            queries.registry = registry;
            queries.registerMeters();
            // this replica's commits, one transaction each, their answers in any order
            queries.notifier.committed(committedHere.subList(4, committedHere.size()));
            queries.notifier.committed(committedHere.subList(0, 4));

            assertEquals(inDatabase, read(queries, 0, 12), "from the start: 4 and 9 to 10 are not in memory");
            assertEquals(inDatabase.subList(10, 12), read(queries, 10, 12), "11 and 12 are whole in memory");
            assertEquals(inDatabase.subList(4, 12), read(queries, 4, 12));
            assertEquals(2.0, registry.counter("agentspend.ledger.stream.reads", "source", "database").count(),
                    "the read from the start and the read after 4 (9 and 10 missing)");
            assertEquals(1.0, registry.counter("agentspend.ledger.stream.reads", "source", "memory").count(),
                    "the read after 10");
        } finally {
            pool.closeAndAwait();
            vertx.closeAndAwait();
        }
    }

    /** The feed's entries after {@code after} up to {@code last}. */
    private static List<FeedEntry> read(LedgerQueries queries, long after, long last) {
        return queries.pages(after).onItem().<FeedEntry>transformToIterable(page -> page).select().first(last - after)
                .collect().asList().await().atMost(Duration.ofSeconds(30));
    }
}

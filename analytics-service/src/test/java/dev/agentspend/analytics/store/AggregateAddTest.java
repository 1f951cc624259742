package dev.agentspend.analytics.store;

import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.platform.WalInspection;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * IngestionStore's aggregate statements (AggregateAdd), run as they are against the migrated
 * schema inside a transaction that is rolled back (the running consumer never sees these rows):
 * sums add up on rows that exist and new rows are inserted, in one statement; a row that exists is
 * updated without being locked first (read from the WAL the statement wrote, for that row's tuple;
 * that test commits, since only flushed WAL can be read, and deletes its row).
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class AggregateAddTest {
    private Connection db;
    private Statement st;

    @BeforeEach
    void begin() throws Exception {
        db = DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "");
        st = db.createStatement();
        db.setAutoCommit(false);
        st.execute("PREPARE add_agent_days(text[], date[], int8[], int8[], int8[]) AS " + IngestionStore.ADD_AGENT_DAYS);
        st.execute("PREPARE add_tool_minutes(text[], timestamptz[], text[], text[], int8[], int8[], int8[], int8[], int8[], int8[], "
                + "bool[]) AS "
                + IngestionStore.ADD_TOOL_MINUTES);
        st.execute("PREPARE add_tasks(text[], text[], int8[], int8[], int8[], timestamptz[], timestamptz[], int4[], timestamptz[]) AS "
                + IngestionStore.ADD_TASKS);
    }

    @AfterEach
    void rollback() throws Exception {
        db.rollback();
        db.close();
    }

    @Test
    void sumsAddToRowsThatExistAndNewKeysGetRows() throws Exception {
        st.execute("EXECUTE add_agent_days(ARRAY['agt_add_a'], ARRAY['2031-03-01'::date], ARRAY[100], ARRAY[1], ARRAY[0])");
        st.execute("EXECUTE add_agent_days(ARRAY['agt_add_a', 'agt_add_b', 'agt_add_a'], "
                + "ARRAY['2031-03-01', '2031-03-01', '2031-03-02']::date[], ARRAY[50, 7, 3], ARRAY[2, 1, 1], ARRAY[1, 0, 0])");

        assertEquals("150 3 1", agentDay("agt_add_a", "2031-03-01"));
        assertEquals("7 1 0", agentDay("agt_add_b", "2031-03-01"));
        assertEquals("3 1 0", agentDay("agt_add_a", "2031-03-02"));

        st.execute("EXECUTE add_tool_minutes(ARRAY['agt_add_a', 'agt_add_a'], "
                + "ARRAY['2031-03-01T10:00:00Z', '2031-03-01T10:00:00Z']::timestamptz[], ARRAY['t1', 't2'], ARRAY['', ''], "
                + "ARRAY[10, 20], ARRAY[1, 1], ARRAY[0, 1], ARRAY[0, 20], ARRAY[0, 0], ARRAY[0, 0], ARRAY[false, true])");
        st.execute("EXECUTE add_tool_minutes(ARRAY['agt_add_a'], ARRAY['2031-03-01T10:00:00Z']::timestamptz[], ARRAY['t2'], "
                + "ARRAY[''], ARRAY[5], ARRAY[1], ARRAY[1], ARRAY[5], ARRAY[1], ARRAY[9], ARRAY[true])");
        try (ResultSet r = st.executeQuery("SELECT tool, spend_micros, call_count, retry_call_count, retry_spend_micros, "
                + "decline_count, declined_micros, rolled FROM analytics.agent_tool_minute WHERE agent_id = 'agt_add_a' ORDER BY tool")) {
            List<String> rows = new ArrayList<>();
            while (r.next()) {
                rows.add(r.getString(1) + " " + r.getLong(2) + " " + r.getLong(3) + " " + r.getLong(4) + " " + r.getLong(5)
                        + " " + r.getLong(6) + " " + r.getLong(7) + " " + r.getBoolean(8));
            }
            // the rolled flag is written with a new row and left alone by the sums added to it
            assertEquals(List.of("t1 10 1 0 0 0 0 false", "t2 25 2 2 25 1 9 true"), rows);
        }
    }

    /** Committed (pg_walinspect reads only flushed WAL), and deleted afterwards. */
    @Test
    void declinedAmountsSaturateWhereTheyAreAddedAndRolledUp() throws Exception {
        String max = Long.toString(Long.MAX_VALUE);
        // two minutes of one day, each added to twice: the second add saturates the minute's row
        for (int i = 0; i < 2; i++) {
            st.execute("EXECUTE add_tool_minutes(ARRAY['agt_sat', 'agt_sat'], "
                    + "ARRAY['2031-04-01T10:00:00Z', '2031-04-01T10:01:00Z']::timestamptz[], ARRAY['t', 't'], ARRAY['', ''], "
                    + "ARRAY[0, 0], ARRAY[0, 0], ARRAY[0, 0], ARRAY[0, 0], ARRAY[1, 1], ARRAY[" + max + ", " + max + "], "
                    + "ARRAY[false, false])");
        }
        try (ResultSet r = st.executeQuery("SELECT declined_micros, decline_count FROM analytics.agent_tool_minute "
                + "WHERE agent_id = 'agt_sat' ORDER BY minute")) {
            for (int i = 0; i < 2; i++) {
                assertTrue(r.next());
                assertEquals(Long.MAX_VALUE, r.getLong(1));
                assertEquals(2, r.getLong(2));
            }
        }
        // the rollup sums both minutes into one day row (rolled back with the rest of this test)
        st.execute("PREPARE roll_up(timestamptz) AS " + IngestionStore.ROLL_UP);
        st.execute("EXECUTE roll_up('2031-04-02T00:00:00Z')");
        try (ResultSet r = st.executeQuery("SELECT declined_micros, decline_count FROM analytics.agent_tool_day "
                + "WHERE agent_id = 'agt_sat'")) {
            assertTrue(r.next());
            assertEquals(Long.MAX_VALUE, r.getLong(1));
            assertEquals(4, r.getLong(2));
        }
    }

    @Test
    void aRowThatExistsIsUpdatedWithoutALockFirst() throws Exception {
        db.commit();
        db.setAutoCommit(true);
        try {
            existingRowUpdatedWithoutLock();
        } finally {
            st.execute("DELETE FROM analytics.agent_day WHERE agent_id = 'agt_add_wal'");
            db.setAutoCommit(false);
        }
    }

    /**
     * A new minute's rows, inserted by one batch, are updated in place by the next (HOT: no new index
     * entries), since their pages keep room (V3's fillfactor). Filled to the brim, nearly every such
     * update moved its row to another page. Committed, and deleted afterwards.
     */
    @Test
    void aNewMinutesRowsAreUpdatedInPlace() throws Exception {
        db.commit();
        db.setAutoCommit(true);
        int rows = 200;
        List<String> agents = new ArrayList<>();
        for (int i = 1; i <= rows; i++) {
            agents.add("'agt_hot_" + i + "'");
        }
        String keys = "ARRAY[" + String.join(", ", agents) + "], "
                + "array_fill('2031-04-01T10:00:00Z'::timestamptz, ARRAY[" + rows + "]), "
                + "array_fill('tool'::text, ARRAY[" + rows + "]), array_fill(''::text, ARRAY[" + rows + "])";
        String sums = ", array_fill(5::int8, ARRAY[" + rows + "]), array_fill(1::int8, ARRAY[" + rows + "])"
                + ", array_fill(0::int8, ARRAY[" + rows + "]), array_fill(0::int8, ARRAY[" + rows + "])"
                + ", array_fill(0::int8, ARRAY[" + rows + "]), array_fill(0::int8, ARRAY[" + rows + "])"
                + ", array_fill(false, ARRAY[" + rows + "])";
        try {
            st.execute("EXECUTE add_tool_minutes(" + keys + sums + ")");
            Set<WalInspection.Tuple> inserted = WalInspection.tuples(db, "analytics.agent_tool_minute", "agent_id LIKE 'agt_hot_%'");
            assertEquals(rows, inserted.size());
            String from = WalInspection.position(db);

            st.execute("EXECUTE add_tool_minutes(" + keys + sums + ")");

            List<String> records = WalInspection.heapRecordTypes(db, from, inserted);
            assertEquals(rows, records.size(), "one update of each row: " + records);
            long inPlace = records.stream().filter("HOT_UPDATE"::equals).count();
            assertTrue(inPlace >= rows * 9 / 10, inPlace + " of " + rows + " updates in place: " + records);
            try (ResultSet r = st.executeQuery("SELECT sum(spend_micros) FROM analytics.agent_tool_minute WHERE agent_id LIKE 'agt_hot_%'")) {
                r.next();
                assertEquals(rows * 10L, r.getLong(1));
            }
        } finally {
            st.execute("DELETE FROM analytics.agent_tool_minute WHERE agent_id LIKE 'agt_hot_%'");
            db.setAutoCommit(false);
        }
    }

    private void existingRowUpdatedWithoutLock() throws Exception {
        st.execute("EXECUTE add_agent_days(ARRAY['agt_add_wal'], ARRAY['2031-03-01'::date], ARRAY[100], ARRAY[1], ARRAY[0])");
        Set<WalInspection.Tuple> row = WalInspection.tuples(db, "analytics.agent_day", "agent_id = 'agt_add_wal'");
        String from = WalInspection.position(db);

        st.execute("EXECUTE add_agent_days(ARRAY['agt_add_wal'], ARRAY['2031-03-01'::date], ARRAY[5], ARRAY[1], ARRAY[0])");

        List<String> records = WalInspection.heapRecordTypes(db, from, row);
        assertEquals(List.of(), records.stream().filter("LOCK"::equals).toList(), "row locks on the existing row");
        assertEquals(1, records.size(), "one update of the existing row: " + records);
        assertEquals("105 2 0", agentDay("agt_add_wal", "2031-03-01"));
    }

    /**
     * Tasks (ADD_TASKS): sums add up over batches, a task completed in a batch adds 1 and its whole
     * cost to its completion day, and spend that reaches it after adds only its delta there.
     */
    @Test
    void taskSumsAndTheirCompletionDay() throws Exception {
        st.execute(addTask("agt_task_a", "job-1", 100, 1, 0, "2031-03-01T10:00:00Z", 0, null));
        st.execute(addTask("agt_task_a", "job-1", 50, 2, 1, "2031-03-01T10:00:05Z", 1, "2031-03-01T10:00:06Z"));
        assertEquals("150 3 1 1 2031-03-01 10:00:05", task("agt_task_a", "job-1"));
        assertEquals("1 150", completedTasks("agt_task_a", "2031-03-01"));
        // a late payment reaches the completed task: its delta goes to the completion day, the count stays
        st.execute(addTask("agt_task_a", "job-1", 30, 1, 0, "2031-03-02T00:00:01Z", 0, null));
        assertEquals("180 4 1 1 2031-03-02 00:00:01", task("agt_task_a", "job-1"));
        assertEquals("1 180", completedTasks("agt_task_a", "2031-03-01"));
    }

    /** Committed (pg_walinspect reads only flushed WAL), and deleted afterwards. */
    @Test
    void aTaskRowThatExistsIsUpdatedWithoutALockFirst() throws Exception {
        db.commit();
        db.setAutoCommit(true);
        try {
            st.execute(addTask("agt_task_wal", "job-1", 100, 1, 0, "2031-03-01T10:00:00Z", 0, null));
            Set<WalInspection.Tuple> row = WalInspection.tuples(db, "analytics.task", "agent_id = 'agt_task_wal'");
            String from = WalInspection.position(db);

            st.execute(addTask("agt_task_wal", "job-1", 5, 1, 0, "2031-03-01T10:00:01Z", 0, null));

            List<String> records = WalInspection.heapRecordTypes(db, from, row);
            assertEquals(List.of(), records.stream().filter("LOCK"::equals).toList(), "row locks on the existing row");
            assertEquals(1, records.size(), "one update of the existing row: " + records);
            assertEquals("105 2 0 0 2031-03-01 10:00:01", task("agt_task_wal", "job-1"));
        } finally {
            st.execute("DELETE FROM analytics.task WHERE agent_id = 'agt_task_wal'");
            db.setAutoCommit(false);
        }
    }

    private static String addTask(String agentId, String taskId, long cost, long calls, long retries, String paidAt,
                                  int outcome, String completedAt) {
        return "EXECUTE add_tasks(ARRAY['" + agentId + "'], ARRAY['" + taskId + "'], ARRAY[" + cost + "]::int8[], ARRAY["
                + calls + "]::int8[], ARRAY[" + retries + "]::int8[], ARRAY['" + paidAt + "']::timestamptz[], ARRAY['" + paidAt
                + "']::timestamptz[], ARRAY[" + outcome + "], ARRAY[" + (completedAt == null ? "NULL" : "'" + completedAt + "'")
                + "]::timestamptz[])";
    }

    private String task(String agentId, String taskId) throws Exception {
        try (ResultSet r = st.executeQuery("SELECT cost_micros || ' ' || call_count || ' ' || retry_call_count || ' ' || outcome"
                + " || ' ' || to_char(last_payment_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM analytics.task "
                + "WHERE agent_id = '" + agentId + "' AND task_id = '" + taskId + "'")) {
            r.next();
            return r.getString(1);
        }
    }

    private String completedTasks(String agentId, String day) throws Exception {
        try (ResultSet r = st.executeQuery("SELECT completed_task_count || ' ' || completed_task_micros FROM analytics.agent_day "
                + "WHERE agent_id = '" + agentId + "' AND day = '" + day + "'")) {
            r.next();
            return r.getString(1);
        }
    }

    private String agentDay(String agentId, String day) throws Exception {
        try (ResultSet r = st.executeQuery("SELECT spend_micros || ' ' || call_count || ' ' || decline_count FROM analytics.agent_day "
                + "WHERE agent_id = '" + agentId + "' AND day = '" + day + "'")) {
            r.next();
            return r.getString(1);
        }
    }
}

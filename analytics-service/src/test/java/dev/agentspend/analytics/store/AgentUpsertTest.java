package dev.agentspend.analytics.store;

import dev.agentspend.analytics.support.AnalyticsTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * IngestionStore's agent upsert, run as is against the migrated schema, inside a transaction that
 * is rolled back (the running consumer never sees these rows). A row that would not change must
 * keep its physical version (ctid): an update writes a new one even within one transaction.
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class AgentUpsertTest {
    private Connection db;
    private Statement st;

    @BeforeEach
    void begin() throws Exception {
        db = DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "");
        db.setAutoCommit(false);
        st = db.createStatement();
        st.execute("PREPARE upsert_agents(text[], text[], text[]) AS " + IngestionStore.UPSERT_AGENTS);
    }

    @AfterEach
    void rollback() throws Exception {
        db.rollback();
        db.close();
    }

    @Test
    void aNewAgentGetsTeamAndCurrencyFromTheFeed() throws Exception {
        upsert("agt_upsert_new", "team_a", "USD");
        assertEquals("team_a USD", teamAndCurrency("agt_upsert_new"));
    }

    @Test
    void aKnownAgentWithNothingNewIsNotRewritten() throws Exception {
        upsert("agt_upsert_same", "team_a", "USD");
        String before = ctid("agt_upsert_same");
        upsert("agt_upsert_same", "team_a", "USD");
        upsert("agt_upsert_same", "", "");
        upsert("agt_upsert_same", "team_a", "EUR"); // a currency once known stays
        assertEquals(before, ctid("agt_upsert_same"));
        assertEquals("team_a USD", teamAndCurrency("agt_upsert_same"));
    }

    @Test
    void aKnownAgentWithNothingNewIsNotLocked() throws Exception {
        db.commit();
        try {
            upsert("agt_upsert_unlocked", "team_a", "USD");
            db.commit();
            upsert("agt_upsert_unlocked", "team_a", "USD");
            assertEquals("0", xmax("agt_upsert_unlocked"), "no lock (a lock would leave this transaction's id)");
        } finally {
            db.rollback();
            st.execute("DELETE FROM analytics.agent WHERE agent_id = 'agt_upsert_unlocked'");
            db.commit();
        }
    }

    @Test
    void aMissingCurrencyIsFilledIn() throws Exception {
        st.execute("INSERT INTO analytics.agent (agent_id, team_id, currency_code) VALUES ('agt_upsert_cur', 'team_a', '')");
        String before = ctid("agt_upsert_cur");
        upsert("agt_upsert_cur", "team_a", "EUR");
        assertEquals("team_a EUR", teamAndCurrency("agt_upsert_cur"));
        assertNotEquals(before, ctid("agt_upsert_cur"));
    }

    @Test
    void theFeedMovesTheTeamOnlyUntilAPolicyHasArrived() throws Exception {
        upsert("agt_upsert_team", "team_a", "USD");
        upsert("agt_upsert_team", "team_b", "USD");
        assertEquals("team_b USD", teamAndCurrency("agt_upsert_team"));

        st.execute("UPDATE analytics.agent SET policy = '\\x00'::bytea, team_id = 'team_p' WHERE agent_id = 'agt_upsert_team'");
        String before = ctid("agt_upsert_team");
        upsert("agt_upsert_team", "team_c", "USD");
        assertEquals("team_p USD", teamAndCurrency("agt_upsert_team"));
        assertEquals(before, ctid("agt_upsert_team"), "identity's team is not rewritten by the feed");
    }

    private void upsert(String agentId, String teamId, String currency) throws Exception {
        st.execute("EXECUTE upsert_agents(ARRAY['" + agentId + "'], ARRAY['" + teamId + "'], ARRAY['" + currency + "'])");
    }

    private String teamAndCurrency(String agentId) throws Exception {
        try (ResultSet r = st.executeQuery("SELECT team_id || ' ' || currency_code FROM analytics.agent WHERE agent_id = '" + agentId + "'")) {
            r.next();
            return r.getString(1);
        }
    }

    private String xmax(String agentId) throws Exception {
        try (ResultSet r = st.executeQuery("SELECT xmax::text FROM analytics.agent WHERE agent_id = '" + agentId + "'")) {
            r.next();
            return r.getString(1);
        }
    }

    private String ctid(String agentId) throws Exception {
        try (ResultSet r = st.executeQuery("SELECT ctid::text FROM analytics.agent WHERE agent_id = '" + agentId + "'")) {
            r.next();
            return r.getString(1);
        }
    }
}

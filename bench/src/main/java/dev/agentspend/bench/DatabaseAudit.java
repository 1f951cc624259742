package dev.agentspend.bench;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * After the run, straight from the ledger's tables (schema in
 * {@code ledger-service/src/main/resources/db/migration}), not through the service being measured:
 * <ul>
 *   <li>overspend, in micros over a limit, summed over three checks: agents whose balance is
 *   negative ({@code ledger.agent_state}); agents whose approved spend in one UTC day
 *   ({@code ledger.entries}, by recorded time) exceeds the HARD daily cap the benchmark gave them;
 *   spend counters with {@code spent + held > hard_limit_micros} ({@code ledger.every_counter});</li>
 *   <li>duplicates: approved payment entries with the same agent and request_id more than once
 *   (the request_id is inside {@code payload}, a serialized {@code agentspend.ledger.v1.Entry}).</li>
 * </ul>
 */
final class DatabaseAudit {
    private DatabaseAudit() {
    }

    /** One agent's approved spend on one UTC day. */
    record DaySpend(String agentId, String day, long spentMicros) {
    }

    /** Spend above an agent's daily cap: the agent, the day, and by how much. */
    record CapExcess(String agentId, String day, long capMicros, long spentMicros) {
        long overMicros() {
            return spentMicros - capMicros;
        }
    }

    record Result(long negativeBalanceMicros, int negativeBalanceAgents, long capOverMicros, List<CapExcess> capExcesses,
                  long counterOverMicros, int counterOverRows, long approvedPayments, long duplicates,
                  int unparsedPayloads) {
        long overspendMicros() {
            return negativeBalanceMicros + capOverMicros + counterOverMicros;
        }
    }

    /** Day spends above the caps given ({@code agentId -> HARD daily cap}); agents without a cap are skipped. */
    static List<CapExcess> capExcesses(Map<String, Long> dayCaps, List<DaySpend> spends) {
        List<CapExcess> out = new ArrayList<>();
        for (DaySpend s : spends) {
            Long cap = dayCaps.get(s.agentId());
            if (cap != null && s.spentMicros() > cap) {
                out.add(new CapExcess(s.agentId(), s.day(), cap, s.spentMicros()));
            }
        }
        return out;
    }

    /** How many (agent, request_id) keys occur more than once, counting each extra occurrence. */
    static long duplicates(List<String[]> agentAndRequestIds) {
        Set<String> seen = new HashSet<>();
        long dup = 0;
        for (String[] k : agentAndRequestIds) {
            if (!seen.add(k[0] + '\u0000' + k[1])) {
                dup++;
            }
        }
        return dup;
    }

    static Result run(Connection c, Map<String, Long> dayCaps) throws SQLException {
        long negMicros = 0;
        int negAgents = 0;
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT balance_micros FROM ledger.agent_state WHERE balance_micros < 0")) {
            while (rs.next()) {
                negMicros += -rs.getLong(1);
                negAgents++;
            }
        }

        List<DaySpend> spends = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT agent_id, to_char(recorded_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
                     + " sum(spend_micros) FROM ledger.entries WHERE spend_micros <> 0 GROUP BY 1, 2")) {
            while (rs.next()) {
                spends.add(new DaySpend(rs.getString(1), rs.getString(2), rs.getLong(3)));
            }
        }
        List<CapExcess> excesses = capExcesses(dayCaps, spends);
        long capOver = excesses.stream().mapToLong(CapExcess::overMicros).sum();

        long counterOver;
        int counterRows;
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT coalesce(sum(spent_micros + held_micros - hard_limit_micros), 0), count(*)"
                     + " FROM ledger.every_counter WHERE hard_limit_micros IS NOT NULL"
                     + " AND spent_micros + held_micros > hard_limit_micros")) {
            rs.next();
            counterOver = rs.getLong(1);
            counterRows = rs.getInt(2);
        }

        List<String[]> keys = new ArrayList<>();
        int unparsed = 0;
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(false); // lets the driver stream the rows with a cursor
        try (PreparedStatement s = c.prepareStatement("SELECT agent_id, payload FROM ledger.entries WHERE event_type = ?")) {
            s.setFetchSize(2_000);
            s.setInt(1, EventType.EVENT_TYPE_PAYMENT_APPROVED_VALUE);
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    try {
                        Entry e = Entry.parseFrom(rs.getBytes(2));
                        keys.add(new String[]{rs.getString(1), e.getRequestId()});
                    } catch (InvalidProtocolBufferException e) {
                        unparsed++;
                    }
                }
            }
            c.commit();
        } finally {
            c.setAutoCommit(autoCommit);
        }
        return new Result(negMicros, negAgents, capOver, excesses, counterOver, counterRows, keys.size(),
                duplicates(keys), unparsed);
    }
}

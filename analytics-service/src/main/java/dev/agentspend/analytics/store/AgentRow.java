package dev.agentspend.analytics.store;

import dev.agentspend.common.api.WorkingSchedule;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.identity.v1.WorkingInterval;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** An agent as analytics knows it: identity's latest policy, or what the ledger feed told. */
public record AgentRow(String agentId, String handle, String teamId, Map<String, String> labels, String currencyCode,
                       SpendingPolicy policy, WorkingHours workingHours) {

    /** The agent's working hours as a domain schedule (an unknown zone is read as UTC). */
    public WorkingSchedule schedule() {
        ZoneId zone;
        try {
            zone = workingHours.getTimeZone().isEmpty() ? ZoneId.of("UTC") : ZoneId.of(workingHours.getTimeZone());
        } catch (DateTimeException e) {
            zone = ZoneId.of("UTC");
        }
        List<WorkingSchedule.Interval> intervals = new ArrayList<>();
        for (WorkingInterval i : workingHours.getIntervalsList()) {
            intervals.add(new WorkingSchedule.Interval(i.getDayOfWeek(), i.getStartMinute(), i.getEndMinute()));
        }
        return new WorkingSchedule(zone, intervals);
    }

    /** The limit in force now of the agent's tightest DAY cap over every tool; 0 without one. */
    public long dailyCapMicros(Instant now) {
        long best = 0;
        for (Cap c : policy.getCapsList()) {
            if (c.getWindow() == CapWindow.CAP_WINDOW_DAY && c.getTool().isEmpty()) {
                long limit = effectiveLimit(c, now);
                best = best == 0 ? limit : Math.min(best, limit);
            }
        }
        return best;
    }

    /** The DAY cap's own limit (without a temporary raise), as the baseline for daily utilization. */
    public long dailyCapBaseMicros() {
        long best = 0;
        for (Cap c : policy.getCapsList()) {
            if (c.getWindow() == CapWindow.CAP_WINDOW_DAY && c.getTool().isEmpty()) {
                best = best == 0 ? c.getLimitMicros() : Math.min(best, c.getLimitMicros());
            }
        }
        return best;
    }

    public static long effectiveLimit(Cap c, Instant now) {
        if (c.hasTemporaryRaise() && c.getTemporaryRaise().hasExpireTime()) {
            Instant expiry = Instant.ofEpochSecond(c.getTemporaryRaise().getExpireTime().getSeconds(),
                    c.getTemporaryRaise().getExpireTime().getNanos());
            return dev.agentspend.analytics.domain.CapWindows.effectiveLimit(c.getLimitMicros(),
                    c.getTemporaryRaise().getLimitMicros(), expiry, now);
        }
        return c.getLimitMicros();
    }
}

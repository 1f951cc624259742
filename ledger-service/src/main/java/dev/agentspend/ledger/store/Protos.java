package dev.agentspend.ledger.store;

import dev.agentspend.ledger.domain.Breach;
import dev.agentspend.ledger.domain.Decision;
import dev.agentspend.ledger.domain.Scope;
import dev.agentspend.ledger.domain.Window;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.ledger.v1.CapBreach;
import dev.agentspend.proto.ledger.v1.CapScope;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;

/** Mapping between the domain's decisions and the contract's messages. */
public final class Protos {
    private Protos() {
    }

    public static CapWindow window(Window w) {
        return switch (w) {
            case PAYMENT -> CapWindow.CAP_WINDOW_PAYMENT;
            case TASK -> CapWindow.CAP_WINDOW_TASK;
            case HOUR -> CapWindow.CAP_WINDOW_HOUR;
            case DAY -> CapWindow.CAP_WINDOW_DAY;
            case WEEK -> CapWindow.CAP_WINDOW_WEEK;
            case MONTH -> CapWindow.CAP_WINDOW_MONTH;
            case LIFETIME -> CapWindow.CAP_WINDOW_LIFETIME;
        };
    }

    public static CapScope scope(Scope s) {
        return switch (s) {
            case AGENT -> CapScope.CAP_SCOPE_AGENT;
            case TEAM -> CapScope.CAP_SCOPE_TEAM;
            case SANDBOX -> CapScope.CAP_SCOPE_SANDBOX;
        };
    }

    public static DeclineReason reason(dev.agentspend.ledger.domain.DeclineReason r) {
        return DeclineReason.valueOf("DECLINE_REASON_" + r.name());
    }

    public static CapBreach breach(Breach b) {
        CapBreach.Builder out = CapBreach.newBuilder()
                .setScope(scope(b.scope()))
                .setWindow(window(b.window()))
                .setEnforcement(b.hard() ? CapEnforcement.CAP_ENFORCEMENT_HARD : CapEnforcement.CAP_ENFORCEMENT_SOFT)
                .setTool(b.tool())
                .setLimitMicros(b.limit())
                .setUsedMicros(b.used())
                .setHeadroomMicros(b.headroom());
        if (b.windowEnd() != null) {
            out.setWindowEndTime(Tx.timestamp(b.windowEnd()));
        }
        return out.build();
    }

    /** Writes a decision into an entry: decision, reason, the HARD cap exceeded, SOFT breaches. */
    static void apply(Decision d, Entry.Builder e) {
        if (d.approved()) {
            e.setDecision(dev.agentspend.proto.ledger.v1.Decision.DECISION_APPROVED);
            d.softBreaches().forEach(b -> e.addSoftBreaches(breach(b)));
        } else {
            e.setDecision(dev.agentspend.proto.ledger.v1.Decision.DECISION_DECLINED)
                    .setDeclineReason(reason(d.reason()))
                    .setNote(d.message());
            if (d.exceeded() != null) {
                e.setExceededCap(breach(d.exceeded()));
            }
        }
    }
}

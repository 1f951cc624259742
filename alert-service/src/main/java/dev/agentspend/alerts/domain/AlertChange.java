package dev.agentspend.alerts.domain;

import java.time.Instant;
import java.util.List;

/** What an evaluation changed about alerts. */
public sealed interface AlertChange {
    OpenAlert alert();

    /**
     * A condition started to hold: a new alert, and the agents it suspends (each by its own
     * setting of the rule: a loop's agents may have different ones).
     */
    record Fired(OpenAlert alert, List<String> suspend) implements AlertChange {
        public Fired {
            suspend = List.copyOf(suspend);
            if (!alert.agentIds().containsAll(suspend)) {
                throw new IllegalArgumentException("suspends " + suspend + ", not all named by the alert " + alert.agentIds());
            }
        }

        /** Suspends every agent it names when its action is SUSPEND. */
        public Fired(OpenAlert alert) {
            this(alert, alert.action() == ActionType.SUSPEND ? alert.agentIds() : List.of());
        }
    }

    /** An open alert's condition still holds: last seen and evidence move on (no event). */
    record Refreshed(OpenAlert alert) implements AlertChange {
    }

    /**
     * An open alert's condition cleared. {@code sweptAt}: when a sweep resolved it, the time the
     * sweep judged it at (an entry recorded before it must not fire the alert again); null when an
     * entry of the agent resolved it.
     */
    record Resolved(OpenAlert alert, Instant at, Instant sweptAt) implements AlertChange {
        public Resolved(OpenAlert alert, Instant at) {
            this(alert, at, null);
        }
    }
}

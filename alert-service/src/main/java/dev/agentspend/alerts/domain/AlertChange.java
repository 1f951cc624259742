package dev.agentspend.alerts.domain;

import java.time.Instant;

/** What an evaluation changed about alerts. */
public sealed interface AlertChange {
    OpenAlert alert();

    /** A condition started to hold: a new alert. */
    record Fired(OpenAlert alert) implements AlertChange {
    }

    /** An open alert's condition still holds: last seen and evidence move on (no event). */
    record Refreshed(OpenAlert alert) implements AlertChange {
    }

    /** An open alert's condition cleared. */
    record Resolved(OpenAlert alert, Instant at) implements AlertChange {
    }
}

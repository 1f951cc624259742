package dev.agentspend.ledger.store;

import dev.agentspend.ledger.domain.PolicyView;

/**
 * A decision for {@code view} would read counters of {@code tool} that do not count every payment
 * of it yet (see {@link Tx#requireCounted}): thrown before anything is decided, caught by
 * {@link ToolCounters#whenCounted}, which makes them complete and runs the call again.
 */
final class ToolNotCounted extends RuntimeException {
    private final transient PolicyView view;
    private final String tool;

    ToolNotCounted(PolicyView view, String tool) {
        super("the counters of tool '" + tool + "' for agent " + view.agentId() + " do not count every payment yet",
                null, false, false);
        this.view = view;
        this.tool = tool;
    }

    PolicyView view() {
        return view;
    }

    String tool() {
        return tool;
    }
}

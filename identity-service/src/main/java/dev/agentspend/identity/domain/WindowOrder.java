package dev.agentspend.identity.domain;

import dev.agentspend.proto.identity.v1.CapWindow;

/**
 * Which cap window is contained in which. Calendar windows nest (hour in day in week in month in
 * lifetime; a UTC week can straddle two months, but a month's cap still bounds any of its weeks'
 * spend). A payment is inside every window; a task can span calendar windows, so it is only
 * known to be inside the lifetime.
 */
public final class WindowOrder {
    private WindowOrder() {
    }

    public static boolean isSmaller(CapWindow a, CapWindow b) {
        if (a == b || !isKnown(a) || !isKnown(b)) {
            return false;
        }
        if (a == CapWindow.CAP_WINDOW_PAYMENT) {
            return true;
        }
        if (b == CapWindow.CAP_WINDOW_PAYMENT) {
            return false;
        }
        if (a == CapWindow.CAP_WINDOW_TASK || b == CapWindow.CAP_WINDOW_TASK) {
            return b == CapWindow.CAP_WINDOW_LIFETIME;
        }
        return a.getNumber() < b.getNumber();
    }

    private static boolean isKnown(CapWindow w) {
        return w != CapWindow.CAP_WINDOW_UNSPECIFIED && w != CapWindow.UNRECOGNIZED;
    }
}

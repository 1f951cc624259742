package dev.agentspend.identity.domain;

import dev.agentspend.common.api.Fields;
import dev.agentspend.common.error.Violations;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;

import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Validation of a list of caps: each cap on its own, then the caps against each other. A cap over a
 * smaller window with a larger limit than a cap over a bigger window (same tool, same enforcement)
 * can never bind and is almost always a typo, so it is refused unless explicitly allowed.
 */
public final class CapRules {
    private CapRules() {
    }

    /**
     * @param path     the request path of the list, for example {@code policy.caps}
     * @param currency the owner's currency, which every cap must use
     */
    public static void check(List<Cap> caps, String currency, boolean allowInvertedWindows, Instant now,
                             String path, Violations violations) {
        if (caps.size() > Limits.MAX_CAPS) {
            violations.add(path, "at most " + Limits.MAX_CAPS + " caps are allowed, got " + caps.size());
            return;
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < caps.size(); i++) {
            Cap cap = caps.get(i);
            String at = path + "[" + i + "]";
            checkOne(cap, currency, now, at, violations);
            String identity = cap.getWindow() + "|" + cap.getEnforcement() + "|" + cap.getTool();
            if (!seen.add(identity)) {
                violations.add(at, "duplicates an earlier cap with the same window, enforcement and tool");
            }
        }
        if (!allowInvertedWindows) {
            checkWindowOrder(caps, path, violations);
        }
    }

    private static void checkOne(Cap cap, String currency, Instant now, String at, Violations v) {
        v.check(cap.getWindow() != CapWindow.CAP_WINDOW_UNSPECIFIED && cap.getWindow() != CapWindow.UNRECOGNIZED,
                at + ".window", "must be one of PAYMENT, TASK, HOUR, DAY, WEEK, MONTH, LIFETIME");
        v.check(cap.getEnforcement() != CapEnforcement.CAP_ENFORCEMENT_UNSPECIFIED
                        && cap.getEnforcement() != CapEnforcement.UNRECOGNIZED,
                at + ".enforcement", "must be HARD or SOFT");
        v.check(cap.getLimitMicros() > 0, at + ".limit_micros", "must be positive, was " + cap.getLimitMicros());
        if (!Fields.isCurrencyCode(cap.getCurrencyCode())) {
            v.add(at + ".currency_code", "must be an ISO 4217 code such as USD, was '"
                    + Fields.printable(cap.getCurrencyCode()) + "'");
        } else if (!cap.getCurrencyCode().equals(currency)) {
            v.add(at + ".currency_code", "must equal the owner's currency " + currency + ", was "
                    + cap.getCurrencyCode());
        }
        v.check(Fields.isText(cap.getTool(), Limits.MAX_TOOL_LENGTH) && cap.getTool().strip().equals(cap.getTool()),
                at + ".tool", "must be at most " + Limits.MAX_TOOL_LENGTH
                        + " characters without control characters or surrounding spaces");
        if (cap.hasTemporaryRaise()) {
            String raise = at + ".temporary_raise";
            v.check(cap.getTemporaryRaise().getLimitMicros() > cap.getLimitMicros(), raise + ".limit_micros",
                    "must be larger than the cap's limit " + cap.getLimitMicros());
            TimeRules.checkFuture(cap.getTemporaryRaise().hasExpireTime(), cap.getTemporaryRaise().getExpireTime(),
                    now, raise + ".expire_time", true, v);
        }
    }

    private static void checkWindowOrder(List<Cap> caps, String path, Violations v) {
        for (int i = 0; i < caps.size(); i++) {
            Cap smaller = caps.get(i);
            for (int j = 0; j < caps.size(); j++) {
                Cap bigger = caps.get(j);
                if (i == j || !smaller.getTool().equals(bigger.getTool())
                        || smaller.getEnforcement() != bigger.getEnforcement()
                        || !WindowOrder.isSmaller(smaller.getWindow(), bigger.getWindow())) {
                    continue;
                }
                if (smaller.getLimitMicros() > bigger.getLimitMicros()) {
                    v.add(path + "[" + i + "].limit_micros", windowName(smaller.getWindow()) + " limit "
                            + smaller.getLimitMicros() + " exceeds the " + windowName(bigger.getWindow())
                            + " limit " + bigger.getLimitMicros() + " of " + path + "[" + j
                            + "]; lower it or set allow_inverted_windows");
                }
            }
        }
    }

    static String windowName(CapWindow window) {
        return window.name().substring("CAP_WINDOW_".length()).toLowerCase(java.util.Locale.ROOT);
    }
}

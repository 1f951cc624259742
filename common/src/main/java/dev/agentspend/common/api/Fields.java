package dev.agentspend.common.api;

import java.util.Currency;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Checks shared by every service's request validation, so that the same input is judged the same
 * way everywhere. Each returns true when the value is acceptable.
 */
public final class Fields {
    public static final int MAX_TEXT_LENGTH = 256;
    public static final int MAX_ID_LENGTH = 128;
    public static final int MAX_LABELS = 32;
    public static final int MAX_LABEL_KEY_LENGTH = 63;
    public static final int MAX_LABEL_VALUE_LENGTH = 256;

    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]*[a-z0-9])?");
    private static final Pattern LABEL_KEY = Pattern.compile("[a-z0-9]([a-z0-9._/-]*[a-z0-9])?");

    private Fields() {
    }

    /** A lowercase DNS label of 3 to 63 characters, as handles and team names are. */
    public static boolean isHandle(String value) {
        return value != null && value.length() >= 3 && value.length() <= 63 && DNS_LABEL.matcher(value).matches();
    }

    /** An ISO 4217 currency code known to the JVM. */
    public static boolean isCurrencyCode(String value) {
        if (value == null || value.length() != 3 || !isUpper(value.charAt(0)) || !isUpper(value.charAt(1))
                || !isUpper(value.charAt(2))) {
            return false;
        }
        try {
            Currency.getInstance(value);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Free text: bounded and without control characters (which break logs and terminals). */
    public static boolean isText(String value, int maxLength) {
        if (value == null || value.length() > maxLength) {
            return false;
        }
        for (int i = 0; i < value.length(); i++) {
            if (Character.isISOControl(value.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    /** A client-chosen idempotency key: 1 to 128 characters of [A-Za-z0-9._:-]. */
    public static boolean isRequestId(String value) {
        // by hand, not a regular expression: every payment checks one (a Matcher per call)
        if (value == null || value.isEmpty() || value.length() > MAX_ID_LENGTH) {
            return false;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (!(isUpper(c) || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':'
                    || c == '-')) {
                return false;
            }
        }
        return true;
    }

    private static boolean isUpper(char c) {
        return c >= 'A' && c <= 'Z';
    }

    /** Labels: at most 32, keys like {@code team/cost-center}, values bounded text. */
    public static String labelProblem(Map<String, String> labels) {
        if (labels.size() > MAX_LABELS) {
            return "at most " + MAX_LABELS + " labels are allowed, got " + labels.size();
        }
        for (Map.Entry<String, String> e : labels.entrySet()) {
            if (e.getKey().length() > MAX_LABEL_KEY_LENGTH || !LABEL_KEY.matcher(e.getKey()).matches()) {
                return "label key '" + printable(e.getKey()) + "' must be 1 to 63 lowercase letters, digits, '.', '_', '/' or '-'";
            }
            if (!isText(e.getValue(), MAX_LABEL_VALUE_LENGTH)) {
                return "label '" + e.getKey() + "' value must be at most " + MAX_LABEL_VALUE_LENGTH
                        + " characters without control characters";
            }
        }
        return null;
    }

    /** A value safe to echo in an error message: control characters replaced, length bounded. */
    public static String printable(String value) {
        if (value == null) {
            return "";
        }
        StringBuilder out = new StringBuilder(Math.min(value.length(), 64));
        for (int i = 0; i < value.length() && i < 64; i++) {
            char c = value.charAt(i);
            out.append(Character.isISOControl(c) ? '?' : c);
        }
        if (value.length() > 64) {
            out.append("...");
        }
        return out.toString();
    }
}

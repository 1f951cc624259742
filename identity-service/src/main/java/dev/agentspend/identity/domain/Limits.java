package dev.agentspend.identity.domain;

/** Upper bounds on everything a caller can send, so that no request or stored policy grows without end. */
public final class Limits {
    public static final int MAX_CAPS = 64;
    public static final int MAX_TOOL_LENGTH = 128;
    public static final int MAX_WORKING_INTERVALS = 64;
    public static final int MAX_CONCURRENT_HOLDS = 100_000;
    public static final int MAX_DISPLAY_NAME_LENGTH = 256;
    public static final int MAX_REASON_LENGTH = 1024;
    public static final int MAX_DESCRIPTION_LENGTH = 256;
    public static final int MAX_KEYS_PER_AGENT = 20;
    public static final int MAX_UPDATE_MASK_ENTRIES = 8;
    public static final int DEFAULT_PAGE_SIZE = 100;
    public static final int MAX_PAGE_SIZE = 500;
    /** A temporary raise or key expiry further away than this is a mistake, not a plan. */
    public static final long MAX_EXPIRY_AHEAD_SECONDS = 10L * 366 * 24 * 3600;

    private Limits() {
    }
}

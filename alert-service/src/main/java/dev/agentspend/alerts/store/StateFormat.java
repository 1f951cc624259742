package dev.agentspend.alerts.store;

/**
 * The form the consumer writes its rule state in (agentspend.alerts.state-format); both are read
 * (see {@link StateCodec}).
 */
public enum StateFormat {
    /** Variable-length integers and length-prefixed strings: the default. */
    BINARY,
    /**
     * JSON, the only form releases before the binary one read. For rolling back to such a release:
     * a consumer that starts with it rewrites every stored row that is in the binary form.
     */
    JSON
}

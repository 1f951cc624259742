package dev.agentspend.ledger.store;

/** Account ids: one per agent, and one funding and one vendor account per currency. */
final class Accounts {
    private Accounts() {
    }

    static String agent(String agentId) {
        return "agent:" + agentId;
    }

    static String funding(String currency) {
        return "funding:" + currency;
    }

    static String vendor(String currency) {
        return "vendor:" + currency;
    }
}

-- The accounts a transfer in an entry names are no longer checked by foreign keys: the ledger
-- writes only accounts it created (an agent's account with the agent's row, in the transaction
-- that first locks it; funding and vendor accounts per currency with it), and VerifyLedger reports
-- any entry that names an account that does not exist (check "unknown_account").
--
-- Why: a foreign key checks every inserted row on its own, with a query and a KEY SHARE lock on
-- the referenced row, two per entry, and every payment's second one is the same vendor account
-- row, which concurrent batches then share through a multixact. Measured on this stack's
-- PostgreSQL (pgbench, 4 clients, 20-entry inserts like a Pay batch's, synchronous_commit off):
-- 1,518 and 2,040 batches/s with the two keys, 4,861 and 4,679 without, about 35 microseconds of
-- CPU per entry for the checks, where the whole ledger spends about 330 per payment in PostgreSQL.
--
-- What the keys also gave: an account an entry names could not be deleted or re-keyed. Accounts
-- are now append-only like entries: UPDATE, DELETE and TRUNCATE are refused (nothing updates them;
-- new accounts come with ON CONFLICT DO NOTHING, which updates nothing).
--
-- Rolling update: dropping a constraint takes a short exclusive lock and changes nothing a
-- previous-release pod relies on; it keeps writing the same rows.
ALTER TABLE ledger.entries
    DROP CONSTRAINT entries_from_account_fkey,
    DROP CONSTRAINT entries_to_account_fkey;

CREATE TRIGGER accounts_append_only BEFORE UPDATE OR DELETE ON ledger.accounts
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON ledger.accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

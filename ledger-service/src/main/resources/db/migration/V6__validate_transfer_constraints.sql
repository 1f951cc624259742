-- V5's constraints on the transfer columns, validated for the rows written before it. Its own
-- migration (its own transaction): VALIDATE CONSTRAINT scans ledger.entries under a SHARE UPDATE
-- EXCLUSIVE lock, which lets payments insert meanwhile; in V5's transaction the scan would have run
-- under that migration's exclusive lock.
ALTER TABLE ledger.entries VALIDATE CONSTRAINT entries_from_account_fkey;
ALTER TABLE ledger.entries VALIDATE CONSTRAINT entries_to_account_fkey;
ALTER TABLE ledger.entries VALIDATE CONSTRAINT entries_transfer_whole;

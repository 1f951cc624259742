-- A money movement is written in the entry that makes it: from_account_id, to_account_id and
-- transfer_micros on ledger.entries, instead of two rows in ledger.postings.
--
-- Why: every transfer the ledger makes has exactly two legs (funding->agent, agent->vendor,
-- payer->payee, and reversals the other way), so each one cost two postings rows, two primary-key
-- entries and a statement per batch. pg_stat_statements under the benchmark's fleet load put the
-- postings insert at 12.7% of PostgreSQL's executor time, third after the agent-row locks and the
-- entries insert. In the entry a transfer costs three columns of a row that is written anyway.
--
-- Nothing is lost or rewritten, and the previous release keeps working during a rolling update
-- (expand only): ledger.postings stays as it is, append-only, with the legs written before this
-- release (and by pods of the previous release still running during the update). The view
-- ledger.every_posting lists every leg: those rows, and the two legs (-amount, +amount) of every
-- transfer in an entry. Readers of postings (VerifyLedger, audits) read the view. (A VerifyLedger
-- answered by a previous-release pod during the update does not know the new columns and reports
-- the new entries as moving money without postings; the view is what this release checks.)

-- The columns are new, so every existing row holds NULLs and satisfies the constraints: they are
-- added NOT VALID, which skips scanning ledger.entries while this statement holds its exclusive
-- lock (payments of the previous release wait on that lock during a rolling update). New rows are
-- checked from here on; V6 validates the existing ones under a lock that lets payments go on.
ALTER TABLE ledger.entries
    ADD COLUMN from_account_id text COLLATE "C",
    ADD COLUMN to_account_id   text COLLATE "C",
    ADD COLUMN transfer_micros bigint,
    ADD CONSTRAINT entries_from_account_fkey FOREIGN KEY (from_account_id)
        REFERENCES ledger.accounts (account_id) NOT VALID,
    ADD CONSTRAINT entries_to_account_fkey FOREIGN KEY (to_account_id)
        REFERENCES ledger.accounts (account_id) NOT VALID,
    -- a transfer is whole (both accounts and a positive amount) or absent, and never to itself
    ADD CONSTRAINT entries_transfer_whole CHECK (
        (from_account_id IS NULL AND to_account_id IS NULL AND transfer_micros IS NULL)
        OR (from_account_id IS NOT NULL AND to_account_id IS NOT NULL AND transfer_micros > 0
            AND from_account_id <> to_account_id)) NOT VALID;

-- Every leg of every transfer, in the shape of ledger.postings: per entry the legs sum to zero.
CREATE VIEW ledger.every_posting AS
SELECT entry_id, account_id, amount_micros, currency_code FROM ledger.postings
UNION ALL
SELECT e.entry_id, leg.account_id, leg.amount_micros, e.currency_code
FROM ledger.entries e
CROSS JOIN LATERAL (VALUES (e.from_account_id, -e.transfer_micros),
                           (e.to_account_id, e.transfer_micros)) AS leg(account_id, amount_micros)
WHERE e.transfer_micros IS NOT NULL;

-- postings_account is dropped: no query reads postings by account (VerifyLedger's per-account
-- sums scan the whole table), and every payment inserted two entries into it, the vendor leg always
-- under the same key ('vendor:<currency>'), so every batch's inserts met on one index page.
-- pg_stat_statements under the benchmark's fleet load put the postings insert at 14% of
-- PostgreSQL's executor time, second only to the agent-row locks.
DROP INDEX ledger.postings_account;

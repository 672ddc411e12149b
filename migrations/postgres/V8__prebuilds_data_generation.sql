-- Nothing to do on PostgreSQL. On SQLite this version adds a one-row counter that triggers on
-- nine tables bump, so the reconciler can reuse its last snapshot; on PostgreSQL such a row
-- would make every concurrent writer collide on it (SPEC §15). The PostgreSQL store reports
-- no generation and the reconciler reads the snapshot every cycle.
SELECT 1;

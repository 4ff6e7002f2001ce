-- Bare ceiling: one 100-row INSERT into a table shaped like tokens, autocommit (one durable
-- commit per 100 rows).
\set r random(1, 999999999999999)
INSERT INTO bench_bare (tenant_id, token, record_id, collection, field) SELECT 'bench', 'tok_b' || :r || '-' || g, 'rec_b' || :r || '-' || g, 'c', 'name' FROM generate_series(1, 100) g;

-- Bare ceiling: one single-row INSERT into a table shaped like tokens, autocommit (one durable
-- commit per row).
\set r random(1, 999999999999999)
INSERT INTO bench_bare (tenant_id, token, record_id, collection, field) VALUES ('bench', 'tok_b' || :r, 'rec_b' || :r, 'c', 'name');

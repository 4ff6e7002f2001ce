-- Bare ceiling: one SELECT by primary key on a table shaped like tokens (bench_bare, whose rows
-- 'b1'..'bN' scripts/bench.sh writes): what one index probe per reveal costs, nothing else.
\set i random(1, :ntokens)
SELECT token, record_id, collection, field, revoked FROM bench_bare WHERE tenant_id = 'bench' AND token = 'b' || :i;

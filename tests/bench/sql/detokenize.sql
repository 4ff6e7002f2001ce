-- Ceiling for POST /v1/detokenize with one seeded token (X-Purpose: support): the statements the
-- service runs, in its order, with its parameters (server/service/detokenize.c,
-- server/storage/vaultstore.c cu_store_reveal with its gates step from storage/gatestore.c, and
-- cu_store_audit_group_commit).
-- The read: one pipeline, one implicit read-only transaction (no BEGIN, no COMMIT). The audit
-- entry: the service's group commit writes the entries of concurrent requests in one transaction;
-- here each transaction writes its own (one commit per request: the service can do better).
-- Run as custos_app: pgbench -M prepared -D tenant=bench -D ntokens=N. The tokens (JSON array) and
-- the matching audit entries (JSON) come from the helper table bench_tokens(i, tokens, audit) that
-- scripts/bench.sh fills from the seeded tokens; those two primary-key lookups (a few µs) are the
-- only work the service does not do.
\set i random(1, :ntokens)
\startpipeline
SELECT set_config('custos.tenant', 'bench', true), set_config('custos.platform', 'off', true), set_config('statement_timeout', '3000', true), set_config('transaction_read_only', 'on', true);
SELECT name, description, lawful_basis, to_char(created_at AT TIME ZONE 'UTC', E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS.MS"Z"'), to_char(updated_at AT TIME ZONE 'UTC', E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS.MS"Z"') FROM purposes WHERE tenant_id = :tenant AND name = 'support';
SELECT s.subject_id, EXISTS (SELECT 1 FROM subject_restrictions sr WHERE sr.tenant_id = :tenant AND sr.subject_id = s.subject_id), coalesce((SELECT ce.status = 'granted' FROM consent_events ce WHERE ce.tenant_id = :tenant AND ce.subject_id = s.subject_id AND ce.purpose = 'support' ORDER BY ce.seq DESC LIMIT 1), false) FROM (SELECT DISTINCT r.subject_id FROM tokens t CROSS JOIN LATERAL (SELECT rr.subject_id FROM records rr WHERE rr.tenant_id = :tenant AND rr.id = t.record_id LIMIT 1) r WHERE t.tenant_id = :tenant AND t.token = ANY (ARRAY(SELECT json_array_elements_text((SELECT b.tokens FROM bench_tokens b WHERE b.i = :i)::json)))) s WHERE EXISTS (SELECT 1 FROM subject_restrictions x WHERE x.tenant_id = :tenant) OR EXISTS (SELECT 1 FROM purposes p WHERE p.tenant_id = :tenant AND p.name = 'support' AND p.lawful_basis = 'consent') ORDER BY s.subject_id COLLATE "C";
SELECT t.token, t.collection, t.field, t.record_id, r.subject_id, CASE WHEN t.revoked THEN 'revoked' WHEN r.deleted_at IS NOT NULL THEN 'deleted' WHEN v.ciphertext IS NULL OR sk.wrapped IS NULL THEN 'erased' ELSE 'live' END, coalesce(v.key_version, 0), v.ciphertext, coalesce(sk.kek_version, 0), sk.wrapped, coalesce(c.fields -> t.field ->> 'type', ''), (SELECT incarnation FROM tenants WHERE tenant_id = :tenant) FROM tokens t CROSS JOIN LATERAL (SELECT rr.subject_id, rr.deleted_at, rr.created_at FROM records rr WHERE rr.tenant_id = :tenant AND rr.id = t.record_id LIMIT 1) r LEFT JOIN record_values v ON v.tenant_id = :tenant AND v.record_id = t.record_id AND v.field = t.field AND NOT t.revoked LEFT JOIN subject_keys sk ON sk.tenant_id = :tenant AND sk.subject_id = r.subject_id AND sk.version = v.key_version LEFT JOIN collections c ON c.tenant_id = :tenant AND c.name = t.collection WHERE t.tenant_id = :tenant AND t.token = ANY (ARRAY(SELECT json_array_elements_text((SELECT b.tokens FROM bench_tokens b WHERE b.i = :i)::json))) ORDER BY t.token COLLATE "C", (NOT t.revoked AND r.deleted_at IS NULL AND sk.wrapped IS NOT NULL) DESC, r.created_at;
\endpipeline
\startpipeline
BEGIN;
SELECT set_config('custos.tenant', 'bench', true), set_config('custos.platform', 'off', true), set_config('statement_timeout', '3000', true);
SELECT set_config('custos.tenant', 'bench', true), set_config('custos.platform', 'off', true);
INSERT INTO audit_log (tenant_id, principal, action, collection, fields, record_id, subject_id, purpose, redaction, outcome, request_id, incarnation) SELECT :tenant, x.principal, x.action, x.collection, x.fields, x.record_id, x.subject_id, x.purpose, x.redaction, x.outcome, x.request_id, (SELECT incarnation FROM tenants WHERE tenant_id = :tenant) FROM json_to_recordset((SELECT b.audit FROM bench_tokens b WHERE b.i = :i)::json) AS x(principal text, action text, collection text, fields text[], record_id text, subject_id text, purpose text, redaction text, outcome text, request_id text) WHERE x.action = 'tenant.delete' OR EXISTS (SELECT 1 FROM tenants WHERE tenant_id = :tenant);
COMMIT;
\endpipeline

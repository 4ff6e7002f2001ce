-- Ceiling for POST /v1/collections/c/records with one record (name random, phone deterministic
-- and searchable) of a new subject: the statements the service runs, in its order, with its
-- parameters, pipelined as it pipelines them (server/http/dispatch.c rate_check,
-- server/storage/ratestore.c, vaultstore.c, keystore.c; seen with log_statement=all and
-- log_parameter_max_length=-1; tests/unit/test_bench_sql.c keeps the statements equal to the
-- service's).
-- 1. The rate limit (on unless BENCH_RATE_LIMITS=0): its own transaction, committed without
--    waiting for the WAL flush, one round trip. 2. BEGIN, the settings and the collection.
-- 3. The subject's key (none yet), the tenant's lock, the new key. 4. Records, values, tokens,
-- token names and audit entry in one statement, with COMMIT.
-- Run as custos_app: pgbench -M prepared -D tenant=bench -D ratelimit=N (0: no rate limit, as
-- CUSTOS_RATE_TOKENIZE=0) -D ratewindow=MS. @R@ is replaced by a random key per transaction so
-- that ids, subjects and tokens are fresh.
\set r random(1, 999999999999999)
\if :ratelimit > 0
\startpipeline
BEGIN;
SELECT set_config('custos.tenant', 'bench', true), set_config('custos.platform', 'off', true), set_config('statement_timeout', '3000', true);
SELECT set_config('synchronous_commit', 'off', true);
SELECT h.allowed, h.remaining, h.reset_ms FROM custos_rate_hit(:tenant, 'tokenize', 'bench-client', :ratewindow::bigint, :ratelimit::int, 1::int) h;
COMMIT;
\endpipeline
\endif
\startpipeline
BEGIN;
SELECT set_config('custos.tenant', 'bench', true), set_config('custos.platform', 'off', true), set_config('statement_timeout', '3000', true);
SELECT name, fields::text, coalesce(retention_days::text, ''), to_char(created_at AT TIME ZONE 'UTC', E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS.MS"Z"'), to_char(updated_at AT TIME ZONE 'UTC', E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS.MS"Z"'), EXISTS (SELECT 1 FROM records r WHERE r.tenant_id = :tenant AND r.collection = 'c'), (SELECT incarnation FROM tenants t WHERE t.tenant_id = :tenant) FROM collections WHERE tenant_id = :tenant AND name = 'c' FOR KEY SHARE;
\endpipeline
UPDATE subject_keys k SET encryptions = k.encryptions + x.n FROM (SELECT j.subject_id, sum(j.n)::bigint AS n FROM json_to_recordset(replace('[{"subject_id":"pb@R@","n": 2}]', '@R@', :r)::json) AS j(subject_id text, n bigint) GROUP BY j.subject_id) x WHERE k.tenant_id = :tenant AND k.subject_id = x.subject_id AND k.subject_id = ANY (ARRAY(SELECT json_array_elements(replace('[{"subject_id":"pb@R@","n": 2}]', '@R@', :r)::json) ->> 'subject_id')) AND k.version = (SELECT max(m.version) FROM subject_keys m WHERE m.tenant_id = :tenant AND m.subject_id = x.subject_id) RETURNING k.subject_id, k.version, k.kek_version, k.wrapped, k.encryptions;
SELECT current_kek_version, incarnation FROM tenants WHERE tenant_id = :tenant FOR SHARE;
INSERT INTO subject_keys (tenant_id, subject_id, version, kek_version, wrapped, encryptions) SELECT :tenant, x.subject_id, x.version, x.kek_version, decode(x.wrapped, 'hex'), x.n FROM json_to_recordset(replace('[{"subject_id":"pb@R@","version": 1,"kek_version": 1,"wrapped":"01d657226e326cf492fb9425c153d3ab001b930dadf8de9a92bdff38606b1b68fef243b6c992fe2f8a41682b467e9c859f0dba1fb6382ae29e46d0daf7","n": 2}]', '@R@', :r)::json) AS x(subject_id text, version int, kek_version int, wrapped text, n bigint) ON CONFLICT DO NOTHING RETURNING subject_id, version, kek_version, wrapped;
\startpipeline
WITH r AS (INSERT INTO records (tenant_id, id, collection, subject_id) SELECT :tenant, x.id, x.collection, x.subject_id FROM json_to_recordset(replace('[{"id":"rec_pb@R@","collection":"c","subject_id":"pb@R@"}]', '@R@', :r)::json) AS x(id text, collection text, subject_id text)), v AS (INSERT INTO record_values (tenant_id, record_id, collection, field, key_version, ciphertext, blind_index, token) SELECT :tenant, x.record_id, x.collection, x.field, x.key_version, decode(x.ct, 'hex'), decode(x.bi, 'hex'), x.token FROM json_to_recordset(replace('[{"record_id":"rec_pb@R@","collection":"c","field":"name","key_version": 1,"ct":"0175a661146050d6611612c257fd9447082f0e0dcaf5a175660227f8aa7ff97755c6f2a6f7b4294812e61c82","token":"tok_pb@R@","bi": null},{"record_id":"rec_pb@R@","collection":"c","field":"phone","key_version": 1,"ct":"01f693976d5fb31b7e6aa2515fe08ceaa7e10e38231e51242272442ef0951308a5c2d83b2df090aeb3","token":"tokd_pb@R@","bi":"274cd1353c66b34376cc5bfc14323fdbeffbaec917b79f38677a4017b2c7738d"}]', '@R@', :r)::json) AS x(record_id text, collection text, field text, key_version int, ct text, bi text, token text)), t AS (INSERT INTO tokens (tenant_id, token, record_id, collection, field) SELECT :tenant, x.token, x.record_id, x.collection, x.field FROM json_to_recordset(replace('[{"token":"tok_pb@R@","record_id":"rec_pb@R@","collection":"c","field":"name","shared": false,"reserved": false},{"token":"tokd_pb@R@","record_id":"rec_pb@R@","collection":"c","field":"phone","shared": true,"reserved": false}]', '@R@', :r)::json) AS x(token text, record_id text, collection text, field text)), n AS (INSERT INTO token_names (tenant_id, token, collection, field, shared) SELECT :tenant, x.token, x.collection, x.field, false FROM json_to_recordset(replace('[{"token":"tok_pb@R@","record_id":"rec_pb@R@","collection":"c","field":"name","shared": false,"reserved": false},{"token":"tokd_pb@R@","record_id":"rec_pb@R@","collection":"c","field":"phone","shared": true,"reserved": false}]', '@R@', :r)::json) AS x(token text, collection text, field text, shared boolean, reserved boolean) WHERE NOT x.shared AND NOT x.reserved), ns AS (INSERT INTO token_names (tenant_id, token, collection, field, shared) SELECT :tenant, x.token, x.collection, x.field, true FROM json_to_recordset(replace('[{"token":"tok_pb@R@","record_id":"rec_pb@R@","collection":"c","field":"name","shared": false,"reserved": false},{"token":"tokd_pb@R@","record_id":"rec_pb@R@","collection":"c","field":"phone","shared": true,"reserved": false}]', '@R@', :r)::json) AS x(token text, collection text, field text, shared boolean) WHERE x.shared ON CONFLICT (tenant_id, token) DO NOTHING), a AS (INSERT INTO audit_log (tenant_id, principal, action, collection, fields, record_id, subject_id, purpose, redaction, outcome, request_id, incarnation) SELECT :tenant, x.principal, x.action, x.collection, x.fields, x.record_id, x.subject_id, x.purpose, x.redaction, x.outcome, x.request_id, (SELECT incarnation FROM tenants WHERE tenant_id = :tenant) FROM json_to_recordset(replace('[{"principal":"bench-client","action":"tokenize","collection":"c","fields":["name","phone"],"record_id":"rec_pb@R@","subject_id":"pb@R@","purpose": null,"redaction": null,"outcome":"allowed","request_id":"e6e040ec9da71c9297a44bb7224a256d"}]', '@R@', :r)::json) AS x(principal text, action text, collection text, fields text[], record_id text, subject_id text, purpose text, redaction text, outcome text, request_id text)) SELECT 1;
COMMIT;
\endpipeline

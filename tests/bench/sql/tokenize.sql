-- Ceiling for POST /v1/collections/c/records with one record (name random, phone deterministic
-- and searchable) of a new subject: the statements the service runs, in its order, with its
-- parameters (server/storage/vaultstore.c, keystore.c; seen with log_statement=all).
-- Run as custos_app: pgbench -M prepared -D tenant=bench. @R@ is replaced by a random key per
-- transaction so that ids, subjects and tokens are fresh.
\set r random(1, 999999999999999)
\startpipeline
BEGIN;
SET LOCAL custos.tenant = 'bench';
SET LOCAL custos.platform = 'off';
SET LOCAL statement_timeout = 3000;
\endpipeline
SELECT name, fields::text, coalesce(retention_days::text, ''), to_char(created_at AT TIME ZONE 'UTC', E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS.MS"Z"'), to_char(updated_at AT TIME ZONE 'UTC', E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS.MS"Z"'), EXISTS (SELECT 1 FROM records r WHERE r.tenant_id = :tenant AND r.collection = 'c') FROM collections WHERE tenant_id = :tenant AND name = 'c';
SELECT kek_version, wrapped FROM tenant_data_keys WHERE tenant_id = :tenant AND purpose = 'index';
SELECT kek_version, wrapped FROM tenant_data_keys WHERE tenant_id = :tenant AND purpose = 'token';
UPDATE subject_keys k SET encryptions = k.encryptions + x.n FROM json_to_recordset(replace('[{"subject_id":"pb@R@","n": 2}]', '@R@', :r)::json) AS x(subject_id text, n bigint) WHERE k.tenant_id = :tenant AND k.subject_id = x.subject_id AND k.version = (SELECT max(m.version) FROM subject_keys m WHERE m.tenant_id = :tenant AND m.subject_id = x.subject_id) RETURNING k.subject_id, k.version, k.kek_version, k.wrapped, k.encryptions;
SELECT current_kek_version FROM tenants WHERE tenant_id = :tenant FOR SHARE;
SELECT wrapped FROM tenant_keys WHERE tenant_id = :tenant AND version = 1 AND state <> 'destroyed';
INSERT INTO subject_keys (tenant_id, subject_id, version, kek_version, wrapped, encryptions) SELECT :tenant, x.subject_id, x.version, x.kek_version, decode(x.wrapped, 'hex'), x.n FROM json_to_recordset(replace('[{"subject_id":"pb@R@","version": 1,"kek_version": 1,"wrapped":"01c3f3bdb5e0b52460dae2ad15ed43e390a748f9eb452e7c6f27e223a7eea060f3601503474c8c1ea1bc6c7d312e8004551cf811475ecfc48d0eea0793","n": 2}]', '@R@', :r)::json) AS x(subject_id text, version int, kek_version int, wrapped text, n bigint) ON CONFLICT DO NOTHING RETURNING subject_id;
INSERT INTO records (tenant_id, id, collection, subject_id) SELECT :tenant, x.id, x.collection, x.subject_id FROM json_to_recordset(replace('[{"id":"rec_pb@R@","collection":"c","subject_id":"pb@R@"}]', '@R@', :r)::json) AS x(id text, collection text, subject_id text);
INSERT INTO record_values (tenant_id, record_id, collection, field, key_version, ciphertext, blind_index, token) SELECT :tenant, x.record_id, x.collection, x.field, x.key_version, decode(x.ct, 'hex'), decode(x.bi, 'hex'), x.token FROM json_to_recordset(replace('[{"record_id":"rec_pb@R@","collection":"c","field":"name","key_version": 1,"ct":"01b93ba4a0b393bfe4d61e8054cab6cf112ef9b8dab5b1df7ead8a95b6087d4edbfd8956","token":"tok_pb@R@","bi": null},{"record_id":"rec_pb@R@","collection":"c","field":"phone","key_version": 1,"ct":"01b7de29471c00ecfd4663bad25a000c89329af6f6756c40192852854ae86b510d0f513c3e46e95d78","token":"tokd_pb@R@","bi":"6e20e1eb2a7903b7a3c9e5fb765405be275305af7ba2e9d86aaf5461238a0d68"}]', '@R@', :r)::json) AS x(record_id text, collection text, field text, key_version int, ct text, bi text, token text);
INSERT INTO tokens (tenant_id, token, record_id, collection, field) SELECT :tenant, x.token, x.record_id, x.collection, x.field FROM json_to_recordset(replace('[{"token":"tok_pb@R@","record_id":"rec_pb@R@","collection":"c","field":"name"},{"token":"tokd_pb@R@","record_id":"rec_pb@R@","collection":"c","field":"phone"}]', '@R@', :r)::json) AS x(token text, record_id text, collection text, field text) ON CONFLICT (tenant_id, token, record_id, field) DO UPDATE SET revoked = false;
INSERT INTO audit_log (tenant_id, principal, action, collection, fields, record_id, subject_id, purpose, redaction, outcome, request_id) SELECT :tenant, x.principal, x.action, x.collection, x.fields, x.record_id, x.subject_id, x.purpose, x.redaction, x.outcome, x.request_id FROM json_to_recordset(replace('[{"principal":"bench-client","action":"tokenize","collection":"c","fields":["name","phone"],"record_id":"rec_pb@R@","subject_id":"pb@R@","purpose": null,"redaction": null,"outcome":"allowed","request_id":"cf3b2ee79e8080a877c011cb4ce9408d"}]', '@R@', :r)::json) AS x(principal text, action text, collection text, fields text[], record_id text, subject_id text, purpose text, redaction text, outcome text, request_id text);
COMMIT;

-- The sealed audit chain (issue 10). The sealer (service/audit_chain.c) gives each committed
-- entry of a tenant incarnation its position in the chain (chain_pos, in seq order of the
-- entries it finds unsealed: an entry whose transaction commits late gets a later position, so
-- nothing is skipped) and hash = HMAC-SHA-256(audit key, prev_hash || canonical entry).
ALTER TABLE audit_log ADD COLUMN chain_pos bigint;
CREATE UNIQUE INDEX audit_log_chain ON audit_log (tenant_id, incarnation, chain_pos)
    WHERE chain_pos IS NOT NULL;
-- What the sealer looks for; empty when the sealer keeps up.
CREATE INDEX audit_log_unsealed ON audit_log (tenant_id, seq) WHERE hash IS NULL;
-- Queries by principal and by subject (GET /v1/audit, the exposure report) over sealed
-- entries: the sealer's UPDATE writes a new row version with new index entries anyway, so the
-- reveal's INSERT does not pay for these two (measured: with them on every INSERT, 100-entry
-- audit batches ran at half the rate); the few unsealed entries are read through
-- audit_log_unsealed.
CREATE INDEX audit_log_principal ON audit_log (tenant_id, principal, ts)
    WHERE chain_pos IS NOT NULL;
CREATE INDEX audit_log_subject ON audit_log (tenant_id, subject_id, ts)
    WHERE chain_pos IS NOT NULL AND subject_id IS NOT NULL;

-- The service may fill the sealer's columns, once: an entry sealed is never re-sealed (so a
-- compromised service cannot rewrite a sealed position), and content columns stay un-updatable
-- (migration 0003's grants). A superuser can still disable this; the keyed chain detects it.
GRANT UPDATE (chain_pos) ON audit_log TO custos_app;
CREATE FUNCTION custos_audit_seal_once() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.hash IS NOT NULL OR OLD.prev_hash IS NOT NULL OR OLD.chain_pos IS NOT NULL THEN
        RAISE EXCEPTION 'a sealed audit entry cannot change' USING ERRCODE = '42501';
    END IF;
    IF NEW.hash IS NULL OR NEW.prev_hash IS NULL OR NEW.chain_pos IS NULL THEN
        RAISE EXCEPTION 'an audit entry is sealed whole' USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_seal_once BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION custos_audit_seal_once();

-- Audit entries belong to one incarnation of their tenant: a tenant deleted and recreated under
-- the same id starts with an empty trail and never sees the entries of the one before. The
-- entry that records a deletion is written after the tenant row is gone, so it belongs to no
-- incarnation: it stays on the platform side (superuser only), with the entries it closes.

-- The incarnation of the tenant of the current transaction (NULL when it has none, as after a
-- deletion). Row-level security keeps tenant rows out of every other transaction.
CREATE FUNCTION custos_tenant_incarnation() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT incarnation FROM tenants
          WHERE tenant_id = current_setting('custos.tenant', true) $$;

ALTER TABLE audit_log ADD COLUMN incarnation text;
-- Entries written before this migration: those since the current tenant's creation are its own;
-- older ones (a deleted tenant of the same id) stay with no incarnation.
UPDATE audit_log a SET incarnation = t.incarnation
    FROM tenants t
    WHERE t.tenant_id = a.tenant_id AND a.ts >= t.created_at;
-- The service's INSERTs name the incarnation once per statement (a default is evaluated per row,
-- ~10 us each); the default is the backstop for any other writer.
ALTER TABLE audit_log ALTER COLUMN incarnation SET DEFAULT custos_tenant_incarnation();

-- The service reads, seals and appends only its current incarnation's entries, and cannot file
-- an entry under another incarnation.
DROP POLICY tenant_isolation ON audit_log;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = current_setting('custos.tenant', true)
           AND incarnation = (SELECT t.incarnation FROM tenants t
                              WHERE t.tenant_id = current_setting('custos.tenant', true)))
    WITH CHECK (tenant_id = current_setting('custos.tenant', true)
                AND incarnation IS NOT DISTINCT FROM
                    (SELECT t.incarnation FROM tenants t
                     WHERE t.tenant_id = current_setting('custos.tenant', true)));

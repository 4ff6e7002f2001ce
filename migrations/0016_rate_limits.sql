-- Rate limits shared by every node (issue 12 items 5 and 7): one row per key (tenant, bucket,
-- subject: a principal, or the SHA-256 of a token for verify attempts). The row holds a sliding
-- log in at most 33 slots of window/32 each: slot numbers and their counts. A slot leaves the
-- window only once its end is older than the window, so an event is counted for at least the
-- window and at most window/32 longer: never more than the limit in any window (conservative).
-- custos_rate_hit counts one event of weight cost under the row lock, so two nodes checking at
-- once are serialized: the limit is exact across nodes.
CREATE TABLE rate_limits (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    bucket text NOT NULL,
    subject text NOT NULL,
    slots bigint[] NOT NULL DEFAULT '{}',
    counts integer[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, bucket, subject)
);
CREATE INDEX rate_limits_updated ON rate_limits (tenant_id, updated_at);
ALTER TABLE rate_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE rate_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rate_limits
    USING (tenant_id = current_setting('custos.tenant', true))
    WITH CHECK (tenant_id = current_setting('custos.tenant', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO custos_app;

-- One event of weight p_cost under (p_tenant, p_bucket, p_subject): allowed when the events
-- counted in the last p_window_ms plus p_cost stay within p_limit (a refused event is not
-- counted). remaining: what is left after this event; reset_ms: when the oldest counted event
-- leaves the window (0 when none is counted). Runs as the caller: row-level security applies.
CREATE FUNCTION custos_rate_hit(p_tenant text, p_bucket text, p_subject text, p_window_ms bigint,
                                p_limit integer, p_cost integer,
                                OUT allowed boolean, OUT remaining integer, OUT reset_ms bigint)
    LANGUAGE plpgsql
    AS $$
DECLARE
    g bigint := greatest(1, (p_window_ms + 31) / 32);
    now_ms bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    cur bigint := now_ms / g;
    s bigint[];
    c integer[];
    ns bigint[] := '{}';
    nc integer[] := '{}';
    total integer := 0;
    n integer;
BEGIN
    INSERT INTO rate_limits (tenant_id, bucket, subject) VALUES (p_tenant, p_bucket, p_subject)
        ON CONFLICT DO NOTHING;
    SELECT r.slots, r.counts INTO s, c FROM rate_limits r
        WHERE r.tenant_id = p_tenant AND r.bucket = p_bucket AND r.subject = p_subject FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(s, 1), 0) LOOP
        IF (s[i] + 1) * g > now_ms - p_window_ms THEN
            ns := ns || s[i];
            nc := nc || c[i];
            total := total + c[i];
        END IF;
    END LOOP;
    allowed := total + p_cost <= p_limit;
    IF allowed THEN
        total := total + p_cost;
        n := coalesce(array_length(ns, 1), 0);
        IF n > 0 AND ns[n] = cur THEN
            nc[n] := nc[n] + p_cost;
        ELSE
            ns := ns || cur;
            nc := nc || p_cost;
        END IF;
    END IF;
    UPDATE rate_limits SET slots = ns, counts = nc, updated_at = now()
        WHERE tenant_id = p_tenant AND bucket = p_bucket AND subject = p_subject;
    remaining := greatest(p_limit - total, 0);
    reset_ms := CASE WHEN coalesce(array_length(ns, 1), 0) = 0 THEN 0
                     ELSE greatest((ns[1] + 1) * g + p_window_ms - now_ms, 0) END;
END
$$;
GRANT EXECUTE ON FUNCTION custos_rate_hit(text, text, text, bigint, integer, integer) TO custos_app;

-- Issue 9 item 5: the rate-limit check costs less on a hot key. custos_rate_hit (0016) ran
-- INSERT ... ON CONFLICT DO NOTHING before locking the row on every call: once the key's row
-- exists that insert only finds the conflict, and with concurrent checks of one key (one
-- principal's tokenizes) it first waits for the transaction updating the row, then the
-- SELECT ... FOR UPDATE waits again. The row is now locked first and inserted only when absent
-- (then locked as before): the same semantics (the count under the row lock, exact across
-- nodes), one wait instead of two. pgbench, 32 connections on one key, the check alone in its
-- transaction: PostgreSQL CPU per check ~690 -> ~570 µs, 1,810 -> 2,180 checks/s (3 runs
-- each, alternated). The counts stay durable-table rows committed without waiting for the WAL
-- flush (a count lost in a crash of PostgreSQL is acceptable; an UNLOGGED table measured no
-- better, within this machine's noise, and would lose every count on a crash or failover).
CREATE OR REPLACE FUNCTION custos_rate_hit(p_tenant text, p_bucket text, p_subject text,
                                           p_window_ms bigint, p_limit integer, p_cost integer,
                                           OUT allowed boolean, OUT remaining integer,
                                           OUT reset_ms bigint)
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
    -- the row exists but for a key's first event: lock it first, and insert only when absent
    SELECT r.slots, r.counts INTO s, c FROM rate_limits r
        WHERE r.tenant_id = p_tenant AND r.bucket = p_bucket AND r.subject = p_subject FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO rate_limits (tenant_id, bucket, subject)
            VALUES (p_tenant, p_bucket, p_subject) ON CONFLICT DO NOTHING;
        SELECT r.slots, r.counts INTO s, c FROM rate_limits r
            WHERE r.tenant_id = p_tenant AND r.bucket = p_bucket AND r.subject = p_subject
            FOR UPDATE;
    END IF;
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

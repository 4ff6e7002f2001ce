-- Shared helpers for the wrk scripts of scripts/bench.sh (loaded with dofile).
-- Environment: BENCH_JWT (bearer token) or BENCH_JWT_FILE (JWTs one a line: each request takes
-- the next one, thread k of BENCH_WRK_THREADS starting at its own k-th of the file, so that with
-- more JWTs than requests every request carries a JWT the server has not verified yet: the cold
-- token-cache runs); BENCH_TOKENS (seeded tokens, one a line); BENCH_RECORDS (seeded record ids,
-- one a line); BENCH_SEED (records seeded: subjects seed-0..seed-N-1, phones +1555000000..);
-- BENCH_SUBJECTS=known (tokenize for seeded subjects, which already have a key) or new (default).
local M = {}

local counter = 0

-- Gives every wrk thread its own random sequence and id (wrk runs one Lua state per thread).
function M.setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
    M.threads = M.threads or {}
    M.threads[#M.threads + 1] = thread
end

local jwts, jwt_i, jwt_end

function M.init()
    local tid = tonumber(rawget(_G, "tid")) or 0
    math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1000000))
    M.tid = tid
    M.seq = 0
    M.seed = tonumber(os.getenv("BENCH_SEED") or "0")
    M.known = os.getenv("BENCH_SUBJECTS") == "known"
    local path = os.getenv("BENCH_JWT_FILE")
    if path ~= nil and path ~= "" then
        jwts = {}
        for line in io.lines(path) do
            if #line > 0 then
                jwts[#jwts + 1] = line
            end
        end
        assert(#jwts > 0, "no JWTs in " .. path)
        local nt = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
        local share = math.floor(#jwts / nt)
        jwt_i = (math.max(tid, 1) - 1) * share
        jwt_end = jwt_i + share
    end
end

-- The Authorization header's value for the next request.
function M.bearer()
    if jwts == nil then
        return "Bearer " .. assert(os.getenv("BENCH_JWT"), "BENCH_JWT is not set")
    end
    jwt_i = jwt_i + 1
    if jwt_i > jwt_end then
        jwt_reused = jwt_i - jwt_end -- a global: done() reads it per thread
    end
    return "Bearer " .. jwts[(jwt_i - 1) % #jwts + 1]
end

-- The headers of one request (a fresh table: the bearer may change per request).
function M.headers(extra)
    local h = {
        ["Content-Type"] = "application/json",
        ["Authorization"] = M.bearer(),
    }
    for k, v in pairs(extra or {}) do
        h[k] = v
    end
    return h
end

-- A fresh subject id: unique per request across threads and runs; with BENCH_SUBJECTS=known a
-- seeded subject (seed-K) drawn at random.
function M.subject()
    if M.known then
        return string.format("seed-%d", math.random(0, M.seed - 1))
    end
    M.seq = M.seq + 1
    return string.format("b%d-%d-%d-%06d", os.time(), M.tid or 0, M.seq, math.random(0, 999999))
end

function M.record()
    return string.format(
        '{"subject_id":"%s","fields":{"name":"Ada Lovelace %d","phone":"+1555%07d"}}',
        M.subject(), math.random(1, 9999), math.random(0, 9999999))
end

local function load_lines(var)
    local path = assert(os.getenv(var), var .. " is not set")
    local list = {}
    for line in io.lines(path) do
        if #line > 0 then
            list[#list + 1] = line
        end
    end
    assert(#list > 0, "nothing in " .. path)
    return list
end

function M.load_tokens()
    return load_lines("BENCH_TOKENS")
end

function M.load_records()
    return load_lines("BENCH_RECORDS")
end

-- The phone number of a seeded record (scripts/bench.sh seeds +1555 followed by K on 7 digits).
function M.seeded_phone()
    return string.format("+1555%07d", math.random(0, M.seed - 1))
end

-- wrk's done(): prints how many requests reused a JWT of BENCH_JWT_FILE (each thread past its
-- share: a token-cache hit in a cold run; scripts/bench.sh reads the line), summed over threads.
function M.done(summary, latency, requests)
    local n = 0
    for _, t in ipairs(M.threads or {}) do
        n = n + (tonumber(t:get("jwt_reused")) or 0)
    end
    io.write(string.format("jwt_reused: %d\n", n))
end

return M

-- Shared helpers for the wrk scripts of scripts/bench.sh (loaded with dofile).
-- Environment: BENCH_JWT (bearer token), BENCH_TOKENS (file of seeded tokens, one a line).
local M = {}

local counter = 0

-- Gives every wrk thread its own random sequence and id (wrk runs one Lua state per thread).
function M.setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
end

function M.init()
    local tid = tonumber(rawget(_G, "tid")) or 0
    math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1000000))
    M.tid = tid
    M.seq = 0
end

function M.headers(extra)
    local h = {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_JWT"), "BENCH_JWT is not set"),
    }
    for k, v in pairs(extra or {}) do
        h[k] = v
    end
    return h
end

-- A fresh subject id: unique per request across threads and runs.
function M.subject()
    M.seq = M.seq + 1
    return string.format("b%d-%d-%d-%06d", os.time(), M.tid or 0, M.seq, math.random(0, 999999))
end

function M.record()
    return string.format(
        '{"subject_id":"%s","fields":{"name":"Ada Lovelace %d","phone":"+1555%07d"}}',
        M.subject(), math.random(1, 9999), math.random(0, 9999999))
end

function M.load_tokens()
    local path = assert(os.getenv("BENCH_TOKENS"), "BENCH_TOKENS is not set")
    local list = {}
    for line in io.lines(path) do
        if #line > 0 then
            list[#list + 1] = line
        end
    end
    assert(#list > 0, "no tokens in " .. path)
    return list
end

return M

-- The soak's mix (scripts/bench.sh): in turn detokenize 1, record read, search and tokenize 1 of
-- a new subject, all on one connection pool. URL: https://HOST/ (paths set per request)
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tokens, records
local k = 0
setup = c.setup
done = c.done
function init(args)
    c.init()
    tokens = c.load_tokens()
    records = c.load_records()
end
function request()
    k = k % 4 + 1
    if k == 1 then
        return wrk.format("POST", "/v1/detokenize", c.headers({["X-Purpose"] = "support"}),
            '{"tokens":["' .. tokens[math.random(1, #tokens)] .. '"]}')
    elseif k == 2 then
        local h = c.headers({["X-Purpose"] = "support"})
        h["Content-Type"] = nil
        return wrk.format("GET", "/v1/collections/c/records/" .. records[math.random(1, #records)], h)
    elseif k == 3 then
        return wrk.format("POST", "/v1/collections/c/search", c.headers(),
            '{"field":"phone","value":"' .. c.seeded_phone() .. '"}')
    end
    return wrk.format("POST", "/v1/collections/c/records", c.headers(),
        '{"records":[' .. c.record() .. ']}')
end

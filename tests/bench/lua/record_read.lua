-- GET /v1/collections/c/records/{id} of a seeded record drawn at random, purpose "support"
-- (both fields revealed plain). URL: https://HOST/ (the path is set per request)
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local records
setup = c.setup
done = c.done
function init(args)
    c.init()
    records = c.load_records()
end
function request()
    local h = c.headers({["X-Purpose"] = "support"})
    h["Content-Type"] = nil
    return wrk.format("GET", "/v1/collections/c/records/" .. records[math.random(1, #records)], h)
end

-- POST 100 records (200 values) for 100 fresh subjects. URL: http://HOST/v1/collections/c/records
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local headers
local n = tonumber(os.getenv("BENCH_BATCH") or "100")
setup = c.setup
function init(args)
    c.init()
    headers = c.headers()
end
function request()
    local recs = {}
    for i = 1, n do
        recs[i] = c.record()
    end
    return wrk.format("POST", nil, headers, '{"records":[' .. table.concat(recs, ",") .. ']}')
end

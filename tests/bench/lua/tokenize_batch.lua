-- POST 100 records (200 values) for 100 fresh subjects, or with BENCH_SUBJECTS=known for 100
-- seeded subjects drawn at random. URL: https://HOST/v1/collections/c/records
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local n = tonumber(os.getenv("BENCH_BATCH") or "100")
setup = c.setup
done = c.done
function init(args)
    c.init()
end
function request()
    local recs = {}
    for i = 1, n do
        recs[i] = c.record()
    end
    return wrk.format("POST", nil, c.headers(), '{"records":[' .. table.concat(recs, ",") .. ']}')
end

-- POST one record (two values: name random, phone deterministic + searchable) for a fresh
-- subject. URL: http://HOST/v1/collections/c/records
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local headers
setup = c.setup
function init(args)
    c.init()
    headers = c.headers()
end
function request()
    return wrk.format("POST", nil, headers, '{"records":[' .. c.record() .. ']}')
end

-- POST one record (two values: name random, phone deterministic + searchable) for a fresh
-- subject, or with BENCH_SUBJECTS=known for a seeded subject (whose key exists).
-- URL: https://HOST/v1/collections/c/records
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = c.setup
done = c.done
function init(args)
    c.init()
end
function request()
    return wrk.format("POST", nil, c.headers(), '{"records":[' .. c.record() .. ']}')
end

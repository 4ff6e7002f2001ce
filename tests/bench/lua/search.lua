-- POST /v1/collections/c/search for the phone (the searchable, deterministic field) of a seeded
-- record drawn at random: one blind-index match. URL: https://HOST/v1/collections/c/search
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = c.setup
done = c.done
function init(args)
    c.init()
end
function request()
    return wrk.format("POST", nil, c.headers(),
        '{"field":"phone","value":"' .. c.seeded_phone() .. '"}')
end

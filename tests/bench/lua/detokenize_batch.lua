-- POST /v1/detokenize with 100 tokens drawn at random from the seeded ones, purpose "support".
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tokens
local n = tonumber(os.getenv("BENCH_BATCH") or "100")
setup = c.setup
done = c.done
function init(args)
    c.init()
    tokens = c.load_tokens()
end
function request()
    local pick = {}
    for i = 1, n do
        pick[i] = '"' .. tokens[math.random(1, #tokens)] .. '"'
    end
    return wrk.format("POST", nil, c.headers({["X-Purpose"] = "support"}),
        '{"tokens":[' .. table.concat(pick, ",") .. ']}')
end

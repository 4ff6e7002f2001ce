-- POST /v1/detokenize with one token drawn at random from the seeded ones, purpose "support".
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local headers, tokens
setup = c.setup
function init(args)
    c.init()
    headers = c.headers({["X-Purpose"] = "support"})
    tokens = c.load_tokens()
end
function request()
    local t = tokens[math.random(1, #tokens)]
    return wrk.format("POST", nil, headers, '{"tokens":["' .. t .. '"]}')
end

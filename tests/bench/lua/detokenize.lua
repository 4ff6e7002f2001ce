-- POST /v1/detokenize with one token drawn at random from the seeded ones, purpose "support".
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tokens
setup = c.setup
done = c.done
function init(args)
    c.init()
    tokens = c.load_tokens()
end
function request()
    local t = tokens[math.random(1, #tokens)]
    return wrk.format("POST", nil, c.headers({["X-Purpose"] = "support"}), '{"tokens":["' .. t .. '"]}')
end

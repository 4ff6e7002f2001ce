-- POST /v1/detokenize with one seeded token, each request with the next RS256 JWT of
-- BENCH_JWT_FILE (one a line; thread k starts at its own offset): with one JWT in the file the
-- server's token cache is warm, with more JWTs than requests every request is verified afresh.
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local jwts, tokens, i
setup = c.setup
function init(args)
    c.init()
    tokens = c.load_tokens()
    jwts = {}
    local path = os.getenv("BENCH_JWT_FILE")
    assert(path ~= nil, "BENCH_JWT_FILE is not set")
    for line in io.lines(path) do
        if #line > 0 then
            jwts[#jwts + 1] = line
        end
    end
    assert(#jwts > 0, "no JWTs")
    -- the threads take disjoint ranges of the file
    i = math.floor((c.tid - 1) * #jwts / 2)
end
function request()
    i = i + 1
    local h = {
        ["Content-Type"] = "application/json",
        ["X-Purpose"] = "support",
        ["Authorization"] = "Bearer " .. jwts[(i - 1) % #jwts + 1],
    }
    local t = tokens[math.random(1, #tokens)]
    return wrk.format("POST", nil, h, '{"tokens":["' .. t .. '"]}')
end

-- GET PATH_TEMPLATE, a random namespace or hex fragment each time ({ns}, {hex}).
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local template = os.getenv("PATH_TEMPLATE") or "/healthz"
local headers
init = function() c.seed(); headers = c.headers() end
request = function() return wrk.format("GET", c.expand(template), headers) end

-- GET PATH_TEMPLATE of a random generated repository ({ns}, {repo}, {ns_id}, {repo_id}).
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local template = os.getenv("PATH_TEMPLATE")
local headers, samples
init = function() c.seed(); headers = c.headers(); samples = c.load_samples() end
request = function()
  return wrk.format("GET", c.expand(template, samples[math.random(1, #samples)]), headers)
end

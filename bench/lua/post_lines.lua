-- POST to PATH_TEMPLATE one of the prepared bodies in BODIES (one per line), at random.
-- CONTENT_TYPE sets the media type; "{uid}" in a body becomes a fresh unique string each time.
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local template = os.getenv("PATH_TEMPLATE")
local run = os.getenv("RUN_ID") or tostring(os.time())
local headers
local bodies = {}
local n = 0
init = function()
  c.seed(); headers = c.headers()
  headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"
  for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
end
request = function()
  n = n + 1
  local prefix = run .. "-" .. (thread_id or 0) .. "-" .. n .. "-"
  local i = 0
  local body = bodies[math.random(1, #bodies)]:gsub("{uid}", function() i = i + 1; return prefix .. i end)
  return wrk.format("POST", template, headers, body)
end

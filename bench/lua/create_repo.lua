-- POST a new repository with a name never used before into a random namespace (the write path).
-- PATH_TEMPLATE ({ns}), BODY_TEMPLATE with {name}; names start with "bw-" so a run can clean up.
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local template = os.getenv("PATH_TEMPLATE")
local body = os.getenv("BODY_TEMPLATE")
local run = os.getenv("RUN_ID") or tostring(os.time())
local headers
local n = 0
init = function()
  c.seed(); headers = c.headers(); headers["Content-Type"] = "application/json"
end
request = function()
  n = n + 1
  local name = "bw-" .. run .. "-" .. (thread_id or 0) .. "-" .. n
  return wrk.format("POST", c.expand(template), headers, (body:gsub("{name}", name)))
end

-- nginx's push check as nginx asks it: GET /registry/push-check with the original method and URI of a
-- manifest PUT (tag PUSH_TAG, default v1, of a random sampled repository) and that repository's own push token.
-- TOKENS: file of "ns repo token" lines (a registry token granting pull,push on ns/repo).
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local template = os.getenv("PATH_TEMPLATE")
local tag = os.getenv("PUSH_TAG") or "v1"
local targets
init = function()
  c.seed()
  targets = {}
  for line in io.lines(os.getenv("TOKENS")) do
    local ns, repo, token = line:match("^(%S+) (%S+) (%S+)$")
    if ns then
      targets[#targets + 1] = {
        ["X-Original-Method"] = "PUT",
        ["X-Original-URI"] = "/v2/" .. ns .. "/" .. repo .. "/manifests/" .. tag,
        ["Authorization"] = "Bearer " .. token,
      }
    end
  end
end
request = function()
  return wrk.format("GET", template, targets[math.random(1, #targets)])
end

-- Shared by the scenario scripts: headers from the environment, random namespaces and samples.
-- AUTH_HEADER ("Name: value"), NAMESPACES (ns1..nsN), SAMPLES (file of "ns repo ns_id repo_id").
local M = {}

function M.headers()
  local headers = {}
  local auth = os.getenv("AUTH_HEADER")
  if auth and auth ~= "" then
    local k, v = auth:match("^([^:]+):%s*(.*)$")
    headers[k] = v
  end
  return headers
end

M.namespaces = tonumber(os.getenv("NAMESPACES") or "1000")

function M.load_samples()
  local samples = {}
  local path = os.getenv("SAMPLES")
  if path then
    for line in io.lines(path) do
      local ns, repo, ns_id, repo_id = line:match("^(%S+) (%S+) (%S+) (%S+)$")
      if ns then samples[#samples + 1] = {ns = ns, repo = repo, ns_id = ns_id, repo_id = repo_id} end
    end
  end
  return samples
end

local hexdigits = "0123456789abcdef"

-- Fill {ns}, {hex} and, given a sample, {repo}, {ns_id}, {repo_id}, {tail} (its name's last 6
-- characters: the hex that tells it from the others) in a path template.
function M.expand(template, sample)
  return (template:gsub("{([%w_]+)}", function(key)
    if key == "ns" and not sample then return "ns" .. math.random(1, M.namespaces) end
    if key == "hex" then
      local out = {}
      for i = 1, 4 do
        local k = math.random(1, 16)
        out[i] = hexdigits:sub(k, k)
      end
      return table.concat(out)
    end
    if key == "tail" and sample then return sample.repo:sub(-6) end
    if sample and sample[key] then return sample[key] end
    return "{" .. key .. "}"
  end))
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

function M.seed()
  math.randomseed(os.time() * 100 + (thread_id or 0))
end

return M

-- wrk script for the hostsync benchmark: one scenario per run, varied requests.
--
--   wrk -t1 -c16 -d5s -s bench/scim.lua http://127.0.0.1:8000 -- SCENARIO DATA_DIR TAG OFFSET [BASE]
--
-- DATA_DIR holds the seeder's users.tsv, pool.tsv and manifest.lua. TAG makes created
-- userNames unique per run; OFFSET is where this run starts in the pool of new members (so a
-- second run of group-add-member adds members the first did not). Every request is
-- generated in request(); done() prints one line "BENCH {json}" that bench/run.py reads.

local scenario, data_dir, base
local key, big_group, small_group
local users = {}         -- { {id, userName, externalId}, ... }
local pool = {}          -- user ids in neither group
local counter = 0
local generators = {}  -- scenario name -> function returning one request
local run_tag = ""

local PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
local USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
local ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

local function read_lines(path, each)
   local file = io.open(path, "r")
   if file == nil then return end
   for line in file:lines() do each(line) end
   file:close()
end

local function split_tab(line)
   local fields = {}
   for field in string.gmatch(line, "[^\t]+") do fields[#fields + 1] = field end
   return fields
end

local function urlencode(text)
   return (string.gsub(text, "[^%w%-%._~]", function(c)
      return string.format("%%%02X", string.byte(c))
   end))
end

-- Threads are set up by the main state; each gets its index (for disjoint counters).
local next_thread = 0
function setup(thread)
   thread:set("thread_index", next_thread)
   next_thread = next_thread + 1
end

function init(args)
   scenario = args[1]
   data_dir = args[2]
   local tag = args[3] or tostring(os.time())
   local offset = tonumber(args[4] or "0")
   base = args[5] or "/v1/usersync/SCIM"
   thread_index = thread_index or 0  -- a global set by setup() in this thread's state
   if generators[scenario] == nil then
      io.stderr:write("scim.lua: unknown scenario '" .. tostring(scenario) .. "'\n")
      os.exit(2)
   end
   local manifest = dofile(data_dir .. "/manifest.lua")
   key = manifest.api_key
   big_group = manifest.big_group_id
   small_group = manifest.small_group_id
   run_tag = tag .. "-" .. tostring(thread_index)
   read_lines(data_dir .. "/users.tsv", function(line) users[#users + 1] = split_tab(line) end)
   read_lines(data_dir .. "/pool.tsv", function(line) pool[#pool + 1] = line end)
   math.randomseed(os.time() + thread_index * 7919)
   -- Each thread walks its own stretch of the pool, so no two threads add the same member.
   counter = offset + thread_index * 1000003
end

local function random_user()
   return users[math.random(#users)]
end

-- wrk.format uses the headers table it is given (and adds Host and Content-Length to it),
-- so every request gets a fresh one.
local function get(path)
   return wrk.format("GET", path, {
      ["Authorization"] = "Bearer " .. key, ["Accept"] = "application/scim+json"})
end

local function json_request(method, path, body)
   return wrk.format(method, path, {
      ["Authorization"] = "Bearer " .. key, ["Accept"] = "application/scim+json",
      ["Content-Type"] = "application/scim+json"}, body)
end

local function patch(path, operations)
   return json_request("PATCH", path,
      '{"schemas":["' .. PATCH_OP .. '"],"Operations":[' .. operations .. ']}')
end

local function member_op(op, id)
   if op == "add" then
      return '{"op":"Add","path":"members","value":[{"value":"' .. id .. '"}]}'
   end
   return '{"op":"Remove","path":"members[value eq \\"' .. id .. '\\"]"}'
end

local function pool_member(n)
   return pool[(n % #pool) + 1]
end

generators["floor"] = function()
   return get(base .. "/ResourceTypes/User")
end

generators["bare"] = function()
   return get("/")
end

generators["lookup"] = function()
   local filter = 'userName eq "' .. random_user()[2] .. '"'
   return get(base .. "/Users?filter=" .. urlencode(filter))
end

generators["lookup-externalid"] = function()
   local filter = 'externalId eq "' .. random_user()[3] .. '"'
   return get(base .. "/Users?filter=" .. urlencode(filter))
end

generators["get-user"] = function()
   return get(base .. "/Users/" .. random_user()[1])
end

generators["get-group"] = function()
   return get(base .. "/Groups/" .. big_group .. "?excludedAttributes=members")
end

generators["page"] = function()
   local start = math.random(math.max(1, #users - 99))
   return get(base .. "/Users?startIndex=" .. start .. "&count=100")
end

generators["page-first"] = function()
   return get(base .. "/Users?startIndex=1&count=100")
end

generators["page-last"] = function()
   return get(base .. "/Users?startIndex=" .. math.max(1, #users - 99) .. "&count=100")
end

generators["create"] = function()
   counter = counter + 1
   local name = "new-" .. run_tag .. "-" .. counter .. "@contoso.example"
   local body = '{"schemas":["' .. USER_SCHEMA .. '","' .. ENTERPRISE .. '"],'
      .. '"externalId":"new-' .. run_tag .. '-' .. counter .. '","userName":"' .. name .. '",'
      .. '"active":"True","displayName":"New Host ' .. counter .. '",'
      .. '"name":{"givenName":"New","familyName":"Host ' .. counter .. '"},'
      .. '"emails":[{"primary":true,"type":"work","value":"' .. name .. '"}],'
      .. '"title":"Host","' .. ENTERPRISE .. '":{"department":"Reception"}}'
   return json_request("POST", base .. "/Users", body)
end

generators["patch"] = function()
   counter = counter + 1
   local user = random_user()
   return patch(base .. "/Users/" .. user[1],
      '{"op":"Replace","path":"displayName","value":"Renamed ' .. counter .. '"},'
      .. '{"op":"Replace","path":"title","value":"Senior Host ' .. counter .. '"},'
      .. '{"op":"Replace","path":"name.familyName","value":"Family ' .. counter .. '"},'
      .. '{"op":"Replace","path":"' .. ENTERPRISE .. ':department","value":"Dept ' .. counter .. '"},'
      .. '{"op":"Replace","path":"emails[type eq \\"work\\"].value","value":"' .. user[2] .. '"}')
end

generators["disable"] = function()
   return patch(base .. "/Users/" .. random_user()[1],
      '{"op":"Replace","path":"active","value":"False"}')
end

-- Add new members to the 50,000-member group; the remove scenario takes the same ones out.
generators["group-add-member"] = function()
   counter = counter + 1
   return patch(base .. "/Groups/" .. big_group, member_op("add", pool_member(counter)))
end

generators["group-remove-member"] = function()
   counter = counter + 1
   return patch(base .. "/Groups/" .. big_group, member_op("remove", pool_member(counter)))
end

-- Add and remove, alternately, members drawn from 5 pool users: with 16 requests in flight
-- an add and its remove may swap, so the group stays between N and N+5 members (never
-- drifting), and the big and the 10-member group can be compared like for like.
local function churn(group)
   counter = counter + 1
   local op = (counter % 2 == 0) and "add" or "remove"
   return patch(base .. "/Groups/" .. group, member_op(op, pool_member(500000 + math.floor((counter % 10) / 2))))
end

generators["group-churn-big"] = function() return churn(big_group) end
generators["group-churn-small"] = function() return churn(small_group) end

function request()
   return generators[scenario]()
end

function done(summary, latency, requests)
   local errors = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout
   local seconds = summary.duration / 1000000
   io.write(string.format(
      'BENCH {"requests":%d,"seconds":%.3f,"requests_per_s":%.1f,"p50_ms":%.3f,'
      .. '"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"errors":%d,"status_errors":%d,'
      .. '"timeouts":%d}\n',
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000, errors, summary.errors.status,
      summary.errors.timeout))
end

-- wrk script of bench/host_search.py: kiosk host searches, one query after another.
--
--   wrk -t1 -c16 -d10s -s bench/host_search.lua http://127.0.0.1:8000 -- DATA_DIR
--
-- DATA_DIR holds kiosk.lua (the kiosk secrets: one per connection, as 16 kiosks would) and
-- queries.txt (one query a line: 2-5 letter prefixes and two-word queries). Each connection
-- walks the queries from its own start. done() prints one line "BENCH {json}".

local secrets = {}
local queries = {}
local position = 0
local secret = ""
local counter = 0

local function urlencode(text)
   return (string.gsub(text, "[^%w%-%._~]", function(c)
      return string.format("%%%02X", string.byte(c))
   end))
end

local next_thread = 0
function setup(thread)
   thread:set("thread_index", next_thread)
   next_thread = next_thread + 1
end

function init(args)
   local data_dir = args[1]
   secrets = dofile(data_dir .. "/kiosk.lua")
   for line in io.lines(data_dir .. "/queries.txt") do queries[#queries + 1] = urlencode(line) end
   thread_index = thread_index or 0
   position = (thread_index * 7919) % #queries
end

function request()
   counter = counter + 1
   position = position % #queries + 1
   -- One kiosk per request slot: connections cycle through the kiosks' secrets.
   secret = secrets[(counter % #secrets) + 1]
   return wrk.format("GET", "/v1/kiosk/hosts?q=" .. queries[position],
      { ["Authorization"] = "Bearer " .. secret })
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

-- SPDX-License-Identifier: GPL-2.0-only
-- wrk script of `make bench-e2e`: POST /run with the body in the file
-- $E2E_BODY (an OpenWhisk activation: {"value": {...}}), check every answer
-- (status 200 and the expected digest $E2E_EXPECT in the body; anything else
-- is counted, never dropped), and print one line at the end:
--   E2E {"requests":N,"duration_us":D,"rps":R,"p50_us":..,"p95_us":..,"p99_us":..,
--        "mean_us":..,"max_us":..,"non200":N,"wrong":N,"socket_errors":N}
-- Environment variables, not script arguments: done() runs in wrk's main
-- Lua state, which init(args) never sees.
local f = assert(io.open(os.getenv("E2E_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local expect = os.getenv("E2E_EXPECT") or ""

non200 = 0
wrong = 0
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
   elseif expect ~= "" and not string.find(body, expect, 1, true) then
      wrong = wrong + 1
   end
end

function done(summary, latency, requests)
   local n200, nwrong = 0, 0
   for _, t in ipairs(threads) do
      n200 = n200 + (t:get("non200") or 0)
      nwrong = nwrong + (t:get("wrong") or 0)
   end
   local e = summary.errors
   io.write(string.format('E2E {"requests":%d,"duration_us":%d,"rps":%.3f,"p50_us":%d,"p95_us":%d,' ..
      '"p99_us":%d,"mean_us":%.1f,"max_us":%d,"non200":%d,"wrong":%d,"socket_errors":%d}\n',
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max,
      n200, nwrong, e.connect + e.read + e.write + e.timeout))
end

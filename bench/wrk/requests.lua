-- wrk script of bench/latency_http.py: requests from a file, cycled; a JSON summary at the end.
-- KGREC_WRK_REQUESTS: one request per line, "METHOD<TAB>PATH<TAB>JSON body" (the body may be empty)
-- KGREC_WRK_OUT: where done() writes {requests, duration_us, p50_us, p99_us, max_us, status_errors, socket_errors}
local lines = {}
for line in io.lines(os.getenv("KGREC_WRK_REQUESTS")) do
  local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
  lines[#lines + 1] = { method, path, body }
end
local sent = 0
local json = { ["Content-Type"] = "application/json" }

request = function()
  sent = sent + 1
  local r = lines[((sent - 1) % #lines) + 1]
  if r[3] ~= "" then
    return wrk.format(r[1], r[2], json, r[3])
  end
  return wrk.format(r[1], r[2])
end

done = function(summary, latency, requests)
  local e = summary.errors
  local out = io.open(os.getenv("KGREC_WRK_OUT"), "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, "status_errors": %d, "socket_errors": %d}',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
  out:close()
end

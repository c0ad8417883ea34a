-- Prints wrk's totals as one JSON line; with RANGE_BYTES set, every request asks a random aligned Range of that size.
local range_bytes = tonumber(os.getenv("RANGE_BYTES") or "")
local file_bytes = tonumber(os.getenv("FILE_BYTES") or "0")

request = function()
  if range_bytes == nil then return wrk.format(nil) end
  local start = math.random(0, file_bytes / range_bytes - 1) * range_bytes
  return wrk.format(nil, nil, { Range = string.format("bytes=%d-%d", start, start + range_bytes - 1) })
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"bytes":%d,"durationUs":%d,"requests":%d,"errors":%d}\n',
    summary.bytes, summary.duration, summary.requests, e.connect + e.read + e.write + e.status + e.timeout))
end

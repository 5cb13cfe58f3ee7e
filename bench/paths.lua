-- wrk script: request the paths listed (one a line) in the file named by BENCH_PATHS, in order.
-- Thread n of BENCH_THREADS takes paths n, n + BENCH_THREADS, ... so the threads together walk the
-- list once before any path repeats: the first pass over the list is a cold pass.
-- With BENCH_ONCE set, each thread stops after its share of one walk: every request is a first request.
-- At the end it prints one JSON line with the counts and the latency percentiles (microseconds).

local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  paths[#paths + 1] = line
end
local stride = tonumber(os.getenv("BENCH_THREADS"))
local next_offset = 0
local once = os.getenv("BENCH_ONCE") ~= nil

function setup(thread)
  thread:set("position", next_offset)
  next_offset = next_offset + 1
end

function request()
  local path = paths[position % #paths + 1]
  position = position + stride
  return wrk.format("GET", path)
end

if once then
  function response(status, headers, body)
    if position >= #paths then
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %f}\n',
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end

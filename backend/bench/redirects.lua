-- wrk script: GET a random existing slug per request, count answers that are not redirects.
-- The benchmark seeds slugs PREFIX000001 .. PREFIXnnnnnn (zero-padded to 6 digits).
-- BENCH_FIRST=n instead asks for the slugs in order from number n: the warm-up that puts every
-- link in Kurz's cache, as a service in use for a while would have them. Each of the
-- BENCH_THREADS wrk threads takes every BENCH_THREADS-th slug, so that they share the sequence
-- rather than each asking for all of it.
local count = tonumber(os.getenv("BENCH_SLUGS") or "100000")
local prefix = os.getenv("BENCH_PREFIX") or "/b"
local first = tonumber(os.getenv("BENCH_FIRST") or "")
local stride = tonumber(os.getenv("BENCH_THREADS") or "1")
local requested = 0
local threads = {}

-- Globals, so that done() can read each thread's counter with thread:get().
non_redirects = 0

function setup(thread)
   table.insert(threads, thread)
   thread:set("seed", #threads)  -- also the thread's place in the sequence, from 1
end

function init(args)
   math.randomseed(os.time() * 100 + seed)
end

function request()
   local number
   if first then
      number = (first + seed - 1 + requested * stride) % count + 1
      requested = requested + 1
   else
      number = math.random(count)
   end
   return wrk.format("GET", string.format("%s%06d", prefix, number))
end

function response(status, headers, body)
   if status < 300 or status > 399 then
      non_redirects = non_redirects + 1
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("non_redirects")
   end
   local errors = summary.errors
   io.write(string.format(
      "BENCH_JSON {\"requests\": %d, \"duration_us\": %d, \"non_redirects\": %d, " ..
      "\"connect_errors\": %d, \"read_errors\": %d, \"write_errors\": %d, " ..
      "\"status_errors\": %d, \"timeouts\": %d, \"p50_us\": %d, \"p90_us\": %d, " ..
      "\"p99_us\": %d, \"max_us\": %d, \"mean_us\": %.1f}\n",
      summary.requests, summary.duration, bad, errors.connect, errors.read, errors.write,
      errors.status, errors.timeout, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean))
end

-- wrk script for alertdrill's case page and decision POST.
--
-- BENCH_ITEMS: a file of lines "attempt_id session_cookie csrf_token", one per pre-dealt case.
-- BENCH_KIND:  "page"     GET /attempts/{id} as the case's owner (cycles through the cases)
--              "decision" POST /attempts/{id}/decision with a fresh Idempotency-Key; each case is
--                         decided once (the pool is sized larger than a run can use; bench_ratios.py
--                         checks afterwards that every request made a new decision)
--              "htmx"     as "decision", but as htmx sends it (the answer renders the feedback block)
-- BENCH_START: offset into the items, so successive runs use fresh cases.
-- BENCH_THREADS: wrk's -t, so thread k takes items k, k+T, k+2T, ...

local items = {}
for line in io.lines(os.getenv("BENCH_ITEMS")) do
  local id, cookie, csrf = line:match("^(%d+) (%S+) (%S+)$")
  if id then items[#items + 1] = { id, cookie, csrf } end
end

local kind = os.getenv("BENCH_KIND") or "page"
local start = tonumber(os.getenv("BENCH_START") or "0")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
local created = 0
counter = 0  -- a global: done() reads it from each thread with thread:get
local threads = {}
local actions = {
  "action=escalate&escalate_to=notify-provider&confidence=70",
  "action=dismiss&reason=baseline&confidence=80",
  "action=escalate&escalate_to=rapid-response&confidence=90",
  "action=dismiss&reason=artifact&confidence=60",
}

function setup(thread)
  thread:set("tid", created)
  created = created + 1
  threads[#threads + 1] = thread
end

function init(args)
  counter = start + (tid or 0)
end

function request()
  local it = items[(counter % #items) + 1]
  local n = counter
  counter = counter + nthreads
  local headers = { ["Cookie"] = "alertdrill_session=" .. it[2] }
  if kind == "page" then
    return wrk.format("GET", "/attempts/" .. it[1], headers)
  end
  headers["X-CSRF-Token"] = it[3]
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["Idempotency-Key"] = "wrk-" .. it[1]
  if kind == "htmx" then headers["HX-Request"] = "true" end
  return wrk.format("POST", "/attempts/" .. it[1] .. "/decision", headers, actions[(n % #actions) + 1])
end

-- The highest item index any thread reached: the next run starts past it, so a decision run never
-- reuses a case another thread already decided (threads may make different numbers of requests).
function done(summary, latency, requests)
  local top = start
  for _, t in ipairs(threads) do
    local c = t:get("counter")
    if c and c > top then top = c end
  end
  io.write(string.format("BENCH_NEXT_ITEM=%d\n", top))
end

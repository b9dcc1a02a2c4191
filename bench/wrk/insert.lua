-- wrk script for the baseline POST /bench/insert (one raw single-row INSERT).
-- It passes the app's CSRF check like any anonymous form post: BENCH_PRE_COOKIE is the log-in
-- page's pre-session cookie and BENCH_PRE_TOKEN the token that page showed for it.
wrk.method = "POST"
wrk.path = "/bench/insert"
wrk.headers["Cookie"] = "alertdrill_pre=" .. os.getenv("BENCH_PRE_COOKIE")
wrk.headers["X-CSRF-Token"] = os.getenv("BENCH_PRE_TOKEN")

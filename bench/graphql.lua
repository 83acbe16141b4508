-- wrk script: POST a GraphQL query with a bearer token.
-- env: GQL_QUERY, GQL_TOKEN
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if os.getenv("GQL_TOKEN") then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("GQL_TOKEN")
end
wrk.body = '{"query":"' .. os.getenv("GQL_QUERY") .. '"}'

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

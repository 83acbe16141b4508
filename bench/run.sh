#!/usr/bin/env bash
# Load benchmark: `{ me { id fullName } }` through the router vs. straight to
# the users subgraph, measured in the same run (wrk, 1 thread, 32 connections).
# Uses the release binary and a throwaway set of databases and event prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v wrk >/dev/null || { echo "bench needs wrk (apt-get install wrk)"; exit 1; }
scripts/ensure-services.sh

cargo build --release -q -p jobtracker
bin="$CARGO_TARGET_DIR/release/jobtracker"
ls -l "$bin" | awk '{printf "release binary: %.1f MB\n", $5/1048576}'

run_id="bench_$(date +%s)"
export AUTH_DATABASE="jt_auth_${run_id}" USERS_DATABASE="jt_users_${run_id}" EVENTS_PREFIX="jt-${run_id}"
export AUTH_PORT=${AUTH_PORT:-4101} USERS_PORT=${USERS_PORT:-4102} ROUTER_PORT=${ROUTER_PORT:-4100}
export AUTH_URL="http://127.0.0.1:$AUTH_PORT" USERS_URL="http://127.0.0.1:$USERS_PORT"
# Benchmarks measure throughput, not the limiter; dedupe off for an honest router cost.
export RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 ROUTER_DEDUPE=${ROUTER_DEDUPE:-false}
export RUST_LOG=warn ROUTER_LOG_LEVEL=warn

"$bin" run > /tmp/jobtracker-bench.log 2>&1 &
supervisor=$!
trap 'kill -INT $supervisor 2>/dev/null; wait $supervisor 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$ROUTER_PORT/graphql" -H 'content-type: application/json' -d '{"query":"{ __typename }"}' && break
  sleep 0.5
done

token=$(curl -s -X POST "http://127.0.0.1:$ROUTER_PORT/graphql" -H 'content-type: application/json' \
  -d "{\"query\":\"mutation { register(input: {email: \\\"bench-$run_id@example.com\\\", password: \\\"correct horse battery\\\", fullName: \\\"Bench User\\\"}) { accessToken } }\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["register"]["accessToken"])')

router_pid=$(pgrep -f "jobtracker run --target router" | head -1)
sleep 2
echo "router RSS at idle: $(( $(ps -o rss= -p "$router_pid") / 1024 )) MB"

export GQL_TOKEN="$token" GQL_QUERY='{ me { id fullName } }'
wrk -t1 -c4 -d2s -s bench/graphql.lua "http://127.0.0.1:$USERS_PORT/graphql" >/dev/null  # warm-up
direct=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s bench/graphql.lua "http://127.0.0.1:$USERS_PORT/graphql" | grep RESULT)
routed=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s bench/graphql.lua "http://127.0.0.1:$ROUTER_PORT/graphql" | grep RESULT)
echo "users subgraph directly: $direct"
echo "through the router:      $routed"
echo "router RSS after load: $(( $(ps -o rss= -p "$router_pid") / 1024 )) MB"
python3 - "$direct" "$routed" <<'PY'
import sys
rps = lambda line: float(line.split("rps=")[1].split()[0])
d, r = rps(sys.argv[1]), rps(sys.argv[2])
print(f"router / direct throughput: {r/d:.2f}")
PY

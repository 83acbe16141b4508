#!/usr/bin/env bash
# Benchmarks, each against a baseline measured in the same run:
#  1. `{ me { id fullName } }` through the router vs. straight to the users
#     subgraph (wrk, 1 thread, 32 connections, 10 s each);
#  2. applications list queries for a user with APPLICATIONS applications
#     (default 100 000): router vs. subgraph vs. the same SQL on PostgreSQL;
#  3. the analytics query for that user (read models) vs. the same numbers
#     aggregated by SQL over the raw rows; how fast the events were consumed
#     and how fast `analytics rebuild` replays them;
#  4. dashboardUpdated: mutation acknowledged → push received, at 50/s;
#  5. contacts(search:) for a user with CONTACTS contacts (default 100 000):
#     router vs. subgraph vs. the same SQL;
#  6. a 10 MiB résumé PUT to uploadUrl and GET from downloadUrl on the local
#     backend and on S3 (s3s-fs, a second files instance), against curl of
#     the same bytes straight to the S3 server;
#  7. 10 000 in-app reminders due at once: one notifications replica, then
#     two (sent/s, duplicates, lateness behind the due time);
#  8. search over SEARCH_DOCUMENTS documents (default 1 000 000, the bench
#     user's 100 000 among them): `search reindex` time, one- and two-word
#     queries through the router vs. straight to the search subgraph vs. the
#     backend itself, on PostgreSQL and on osmem-server (an OpenSearch-
#     compatible emulator standing in for Elasticsearch), and freshness;
#  9. our router against the gateways people would pick instead, Apollo
#     Gateway (Apollo Server 5) and Hive Gateway on Node, over the same
#     supergraph and subgraphs: a one-subgraph query and a two-subgraph
#     query with an entity fetch (wrk, same connections and duration);
# 10. a crowd of live tabs on one router: CROWD (default "1000 5000 10000")
#     tabs, 10 per user, connecting at 200/s, a third on each subscription;
#     then every user changes their profile and an application: tabs
#     acknowledged, pushed, lost, p50/p99 from mutation acknowledged to push
#     received, RSS per tab and CPU of the router and subscribing subgraphs
#     (CROWD_RATE users changing things per second, default 100;
#     CROWD_PEER=false skips the Hive Gateway run).
# Release binaries, throwaway databases and event prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
APPLICATIONS=${APPLICATIONS:-100000}
CONTACTS=${CONTACTS:-100000}
SEARCH_DOCUMENTS=${SEARCH_DOCUMENTS:-1000000}
# osmem-server answers a search over 1 000 000 documents in more than 10 s
# (an in-memory emulator, not Elasticsearch): measured at 100 000 by default.
SEARCH_ES_DOCUMENTS=${SEARCH_ES_DOCUMENTS:-100000}
PARTS=${PARTS:-"1 2 3 4 5 6 7 8 9 10"}   # which measurements to run
want() { [[ " $PARTS " == *" $1 "* ]]; }
REQUESTS=${REQUESTS:-300}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v wrk >/dev/null || { echo "bench needs wrk (apt-get install wrk)"; exit 1; }
scripts/ensure-services.sh

cargo build --release -q -p jobtracker -p jobtracker-bench
bin="$CARGO_TARGET_DIR/release/jobtracker"
ls -l "$bin" | awk '{printf "release binary: %.1f MB\n", $5/1048576}'

run_id="bench_$(date +%s)"
export EVENTS_PREFIX="jt-${run_id}"
port=4100
services="auth users applications interviews analytics dashboard contacts files notifications search"
for service in $services; do
  upper=${service^^}
  port=$((port + 1))
  export "${upper}_DATABASE=jt_${service}_${run_id}" "${upper}_PORT=$port" "${upper}_URL=http://127.0.0.1:$port"
done
export ROUTER_PORT=${ROUTER_PORT:-4100}
# The local résumé store of this run, removed with it.
DATA_DIR=$(mktemp -d); export DATA_DIR
# Measure throughput, not the limiter; dedupe off for an honest router cost.
export RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 ROUTER_DEDUPE=${ROUTER_DEDUPE:-false}
export RUST_LOG=warn ROUTER_LOG_LEVEL=warn
router="http://127.0.0.1:$ROUTER_PORT/graphql"

"$bin" run > /tmp/jobtracker-bench.log 2>&1 &
supervisor=$!
cleanup() {
  kill -INT $supervisor 2>/dev/null; wait $supervisor 2>/dev/null || true
  [ -n "${KEEP:-}" ] && return
  rm -rf "$DATA_DIR"
  [ -n "${s3_pid:-}" ] && kill "$s3_pid" "$s3_files_pid" 2>/dev/null
  [ -n "${osmem_pid:-}" ] && kill "$osmem_pid" "$es_search_pid" "$es_router_pid" 2>/dev/null
  [ -n "${replica_pid:-}" ] && kill "$replica_pid" 2>/dev/null
  [ -n "${apollo_pid:-}" ] && kill "$apollo_pid" "$hive_pid" 2>/dev/null
  [ -n "${s3_dir:-}" ] && rm -rf "$s3_dir"
  for service in $services files_s3 search_es; do
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS jt_${service}_${run_id} WITH (FORCE)" 2>/dev/null || true
  done
  rabbitmqctl list_queues --silent name 2>/dev/null | grep "^$EVENTS_PREFIX\." | xargs -r -n1 rabbitmqctl delete_queue >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 120); do
  curl -sf -o /dev/null -X POST "$router" -H 'content-type: application/json' -d '{"query":"{ __typename }"}' && break
  sleep 0.5
done
router_pid=$(pgrep -f "jobtracker run --target router" | head -1)
sleep 2
echo "router RSS at idle: $(( $(ps -o rss= -p "$router_pid") / 1024 )) MB"

token=$(curl -s -X POST "$router" -H 'content-type: application/json' \
  -d "{\"query\":\"mutation { register(input: {email: \\\"bench-$run_id@example.com\\\", password: \\\"correct horse battery\\\", fullName: \\\"Bench User\\\"}) { accessToken } }\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["register"]["accessToken"])')

# The supergraph with this run's subgraph URLs, for the peer gateways.
run_supergraph() {
  local file; file=$(mktemp --suffix=.graphql)
  python3 - "$file" <<'PY'
import os, re, sys
sdl = open("schema/supergraph.graphql").read()
def url(match):
    return f'{match.group(1)}"{os.environ[match.group(2).upper() + "_URL"]}/graphql"'
sdl = re.sub(r'(@join__graph\(name: "(\w+)", url: )"[^"]+"', url, sdl)
open(sys.argv[1], "w").write(sdl)
PY
  echo "$file"
}
wait_for_gateway() {
  for _ in $(seq 1 120); do
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$1/graphql" -H 'content-type: application/json' -d '{"query":"{ __typename }"}' && return
    sleep 0.5
  done
}
# Hive Gateway on :4202 (bench/gateways/gateway.config.ts), its pid in hive_pid.
start_hive_gateway() {
  (cd bench/gateways && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  (cd bench/gateways && exec node_modules/.bin/hive-gateway supergraph "$1" --port 4202 --host 127.0.0.1) \
    > /tmp/jobtracker-bench-hive.log 2>&1 &
  hive_pid=$!
  wait_for_gateway 4202
}

if want 1; then
echo; echo "## 1. { me { id fullName } }: router vs. users subgraph"
export GQL_TOKEN="$token" GQL_QUERY='{ me { id fullName } }'
wrk -t1 -c4 -d2s -s bench/graphql.lua "$USERS_URL/graphql" >/dev/null  # warm-up
direct=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s bench/graphql.lua "$USERS_URL/graphql" | grep RESULT)
routed=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s bench/graphql.lua "$router" | grep RESULT)
echo "users subgraph directly: $direct"
echo "through the router:      $routed"
echo "router RSS after load: $(( $(ps -o rss= -p "$router_pid") / 1024 )) MB"
python3 - "$direct" "$routed" <<'PY'
import sys
rps = lambda line: float(line.split("rps=")[1].split()[0])
d, r = rps(sys.argv[1]), rps(sys.argv[2])
print(f"router / direct throughput: {r/d:.2f}")
PY
fi

if want 9; then
echo; echo "## 9. our router vs. Apollo Gateway vs. Hive Gateway (same supergraph, same subgraphs)"
(cd bench/gateways && npm install --no-audit --no-fund --loglevel=error >/dev/null)
supergraph=$(run_supergraph)
node bench/gateways/apollo.mjs "$supergraph" 4201 > /tmp/jobtracker-bench-apollo.log 2>&1 &
apollo_pid=$!
start_hive_gateway "$supergraph"
wait_for_gateway 4201
# Twenty applications with an interview each: the second query reads both subgraphs.
python3 - "$router" "$token" <<'PY'
import json, sys, urllib.request
router, token = sys.argv[1:3]
def gql(query, variables):
    body = json.dumps({"query": query, "variables": variables}).encode()
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    return json.load(urllib.request.urlopen(urllib.request.Request(router, body, headers)))["data"]
for i in range(1, 21):
    app = gql('mutation($c: String!) { createApplication(input: {company: $c, position: "Engineer"}) { id } }',
              {"c": f"Gateway {i}"})["createApplication"]["id"]
    gql('mutation($a: ID!, $at: DateTime!) { scheduleInterview(input: {applicationId: $a, scheduledAt: $at, timeZone: "UTC", type: PHONE}) { id } }',
        {"a": app, "at": f"2030-01-{i:02d}T09:00:00Z"})
PY
export GQL_TOKEN="$token"
declare -A gateway_url=([router]="$router" [apollo]="http://127.0.0.1:4201/graphql" [hive]="http://127.0.0.1:4202/graphql")
for query in '{ me { id fullName } }' '{ applications(first: 20) { edges { node { company interviews { scheduledAt } } } } }'; do
  export GQL_QUERY="$query"
  echo "query: $query"
  expected=$(curl -s -X POST "$router" -H 'content-type: application/json' -H "authorization: Bearer $token" -d "{\"query\":\"$query\"}")
  results=()
  for gw in router apollo hive; do
    answer=$(curl -s -X POST "${gateway_url[$gw]}" -H 'content-type: application/json' -H "authorization: Bearer $token" -d "{\"query\":\"$query\"}")
    python3 -c 'import json,sys; a,b=json.loads(sys.argv[1]),json.loads(sys.argv[2]); assert a.get("data")==b.get("data") and a.get("data"), (sys.argv[3], b)' "$expected" "$answer" "$gw"
    wrk -t1 -c4 -d2s -s bench/graphql.lua "${gateway_url[$gw]}" >/dev/null  # warm-up
    result=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s bench/graphql.lua "${gateway_url[$gw]}" | grep RESULT)
    printf '  %-7s %s\n' "$gw" "$result"
    results+=("$result")
  done
  python3 - "${results[@]}" <<'PY'
import sys
rps = lambda line: float(line.split("rps=")[1].split()[0])
p99 = lambda line: float(line.split("p99_ms=")[1].split()[0])
ours, apollo, hive = sys.argv[1:4]
print(f"  router/apollo throughput {rps(ours)/rps(apollo):.2f}, router/hive {rps(ours)/rps(hive):.2f}; "
      f"p99 apollo/router {p99(apollo)/p99(ours):.2f}, hive/router {p99(hive)/p99(ours):.2f}")
PY
done
echo "RSS after load: router $(( $(ps -o rss= -p "$router_pid") / 1024 )) MB, apollo $(( $(ps -o rss= -p "$apollo_pid") / 1024 )) MB, hive $(( $(ps -o rss= -p "$hive_pid") / 1024 )) MB"
kill "$apollo_pid" "$hive_pid" 2>/dev/null || true
rm -f "$supergraph"
fi

echo; echo "## seeding one user with $APPLICATIONS applications"
seeded=$("$bin" seed --users 1 --applications "$APPLICATIONS")
echo "$seeded"
email=$(echo "$seeded" | grep "sign in as" | awk '{print $4}')
seeded_at=$(date +%s)
login=(--router "$router" --email "$email" --password jobtracker-demo)
database_base="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432}"
applications_db="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432}/$APPLICATIONS_DATABASE"
bench="$CARGO_TARGET_DIR/release/jobtracker-bench"
if want 2; then
echo; echo "## 2. applications lists for that user"
"$bench" applications "${login[@]}" --subgraph "$APPLICATIONS_URL/graphql" --database-url "$applications_db" --requests "$REQUESTS"
fi

if want 3; then
echo; echo "## 3. analytics for the same user"
analytics_total() {
  token=$(curl -s -X POST "$router" -H 'content-type: application/json' \
    -d "{\"query\":\"mutation { login(email: \\\"$email\\\", password: \\\"jobtracker-demo\\\") { accessToken } }\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')
  curl -s -X POST "$router" -H 'content-type: application/json' -H "authorization: Bearer $token" \
    -d '{"query":"{ analytics { totalApplications funnel { applied } } }"}' \
    | python3 -c 'import json,sys; a=json.load(sys.stdin)["data"]["analytics"]; print(a["totalApplications"], a["funnel"]["applied"])'
}
until [ "$(analytics_total | cut -d' ' -f1)" -ge "$APPLICATIONS" ]; do sleep 5; done
echo "events consumed into the read models $(( $(date +%s) - seeded_at )) s after seeding ended"
sleep 10  # let the status changes still queued land
"$bench" analytics "${login[@]}" --database-url "$applications_db" --requests "$REQUESTS"
before=$(analytics_total)
started=$(date +%s.%N)
"$bin" analytics rebuild
echo "rebuild took $(python3 -c "print(round($(date +%s.%N) - $started, 1))") s; numbers before: $before, after: $(analytics_total)"
fi

if want 4; then
echo; echo "## 4. dashboardUpdated push latency"
"$bench" push-latency "${login[@]}" --rate 50 --seconds 20
fi

if want 5; then
echo; echo "## 5. contacts(search:) for that user with $CONTACTS contacts"
"$bench" contacts "${login[@]}" --subgraph "$CONTACTS_URL/graphql" --database-url "$database_base/$CONTACTS_DATABASE" \
  --contacts "$CONTACTS" --requests "$REQUESTS"
fi

if want 6; then
echo; echo "## 6. 10 MiB résumé through uploadUrl/downloadUrl: local backend, S3 (s3s-fs), curl straight to S3"
s3s=$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")
s3_dir=$(mktemp -d) s3_port=4190 s3_key=bench s3_secret="bench-$run_id"
"$s3s" --host 127.0.0.1 --port $s3_port --access-key $s3_key --secret-key "$s3_secret" "$s3_dir" >/dev/null 2>&1 &
s3_pid=$!
# A second files instance on S3, beside the local one the supervisor runs.
FILES_PORT=4191 FILES_DATABASE="jt_files_s3_${run_id}" S3_ENDPOINT="http://127.0.0.1:$s3_port" S3_BUCKET=bench-resumes \
  AWS_ACCESS_KEY_ID=$s3_key AWS_SECRET_ACCESS_KEY="$s3_secret" "$bin" run --target files >/tmp/jobtracker-bench-s3.log 2>&1 &
s3_files_pid=$!
for _ in $(seq 1 60); do curl -sf -o /dev/null http://127.0.0.1:4191/health && break; sleep 0.5; done
echo "| measurement | result |"; echo "|---|---|"
"$bench" files "${login[@]}" --files "$FILES_URL/graphql" --backend local
"$bench" files "${login[@]}" --files "http://127.0.0.1:4191/graphql" --backend s3 \
  --s3-endpoint "http://127.0.0.1:$s3_port" --s3-access-key $s3_key --s3-secret-key "$s3_secret"
fi

if want 7; then
echo; echo "## 7. 10 000 reminders due at once: one notifications replica, then two"
echo "| measurement | throughput | duplicates | lateness |"; echo "|---|---|---|---|"
notifications_db="$database_base/$NOTIFICATIONS_DATABASE"
"$bench" reminders "${login[@]}" --database-url "$notifications_db" --label "one replica (baseline)"
# A second replica of the same service: same database, same queues.
NOTIFICATIONS_PORT=4193 "$bin" run --target notifications >/tmp/jobtracker-bench-replica.log 2>&1 &
replica_pid=$!
for _ in $(seq 1 60); do curl -sf -o /dev/null http://127.0.0.1:4193/health && break; sleep 0.5; done
"$bench" reminders "${login[@]}" --database-url "$notifications_db" --label "two replicas"
fi

search_part() {  # $1: documents, $2: also on Elasticsearch (true/false)
echo; echo "## 8. search over $1 documents: PostgreSQL$($2 && echo ", and osmem-server (an OpenSearch-compatible emulator, not Elasticsearch)")"
es=()
if $2; then
osmem=${OSMEM_SERVER:-$HOME/.local/share/jobtracker/osmem/osmem_server/bin/osmem-server}
es_url=http://127.0.0.1:4196
"$osmem" -addr 127.0.0.1:4196 -no-stdin-watch -no-ja >/dev/null 2>&1 &
osmem_pid=$!
# A second search instance on it, with its own database and its own copy of
# every event (SEARCH_QUEUE), and a second router in front of it.
SEARCH_PORT=4194 SEARCH_DATABASE="jt_search_es_${run_id}" ELASTICSEARCH_URL=$es_url SEARCH_QUEUE=search.documents.es \
  "$bin" run --target search >/tmp/jobtracker-bench-search-es.log 2>&1 &
es_search_pid=$!
for _ in $(seq 1 60); do curl -sf -o /dev/null http://127.0.0.1:4194/health && break; sleep 0.5; done
ROUTER_PORT=4195 SEARCH_URL=http://127.0.0.1:4194 "$bin" run --target router >/tmp/jobtracker-bench-router-es.log 2>&1 &
es_router_pid=$!
for _ in $(seq 1 60); do
  curl -sf -o /dev/null -X POST http://127.0.0.1:4195/graphql -H 'content-type: application/json' -d '{"query":"{ __typename }"}' && break
  sleep 0.5
done
es=(--elasticsearch-url $es_url --router-es http://127.0.0.1:4195/graphql --subgraph-es http://127.0.0.1:4194/graphql)
fi
"$bench" search-seed "${login[@]}" --documents "$1" \
  --applications-database-url "$database_base/$APPLICATIONS_DATABASE" \
  --contacts-database-url "$database_base/$CONTACTS_DATABASE" --users-database-url "$database_base/$USERS_DATABASE"
for backend in postgresql $($2 && echo elasticsearch); do
  started=$(date +%s.%N)
  if [ $backend = postgresql ]; then
    "$bin" search reindex 2>/dev/null
  else
    SEARCH_DATABASE="jt_search_es_${run_id}" ELASTICSEARCH_URL=$es_url "$bin" search reindex 2>/dev/null
  fi
  echo "search reindex on $backend: $(echo "$(date +%s.%N) - $started" | bc) s"
done
"$bench" search "${login[@]}" --subgraph "$SEARCH_URL/graphql" "${es[@]}" \
  --database-base "$database_base" --search-database "$SEARCH_DATABASE" --requests "$REQUESTS"
}

if want 8; then
# Both backends at the size osmem-server can take, then PostgreSQL alone at
# the full size (the documents of the first run stay: SEARCH_DOCUMENTS in all).
search_part "$SEARCH_ES_DOCUMENTS" true
search_part $((SEARCH_DOCUMENTS - SEARCH_ES_DOCUMENTS)) false
fi

if want 10; then
echo; echo "## 10. live tabs on one router, then on Hive Gateway (same subgraphs)"
child_pid() { pgrep -P "$supervisor" -f -- "--target $1( |\$)" | head -1; }
subgraph_pids=()
for target in dashboard users notifications; do subgraph_pids+=(--pid "$target=$(child_pid $target)"); done
for tabs in ${CROWD:-1000 5000 10000}; do
  echo "### router: $tabs tabs ($((tabs / 10)) users × 10)"
  "$bench" crowd --router "$router" --users $((tabs / 10)) --tabs 10 --connects-per-second 200 \
    --mutations-per-second "${CROWD_RATE:-100}" --pid "router=$(child_pid router)" "${subgraph_pids[@]}"
done
if [ "${CROWD_PEER:-true}" = true ]; then
supergraph=$(run_supergraph)
start_hive_gateway "$supergraph"
for tabs in ${CROWD:-1000 5000 10000}; do
  echo "### Hive Gateway: $tabs tabs ($((tabs / 10)) users × 10)"
  "$bench" crowd --router "http://127.0.0.1:4202/graphql" --users $((tabs / 10)) --tabs 10 --connects-per-second 200 \
    --mutations-per-second "${CROWD_RATE:-100}" --pid "hive=$hive_pid" "${subgraph_pids[@]}"
done
kill "$hive_pid" 2>/dev/null || true
rm -f "$supergraph"
fi
fi

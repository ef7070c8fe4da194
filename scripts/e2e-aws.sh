#!/usr/bin/env bash
# End-to-end flow of the AWS deployment on loopback, against freshly started servers:
#
#   moto_server (S3, SNS, ECS, Secrets Manager, EC2 network ids) on a free port, MariaDB (a
#   database created for this run, migrated by the explicit admin command, used by the tasks and
#   the controller through a user without DDL rights; dropped afterwards), the shared HLS video on
#   a loopback HTTP server, the result receiver (a FastAPI app, testing/callback-receiver) under
#   uvicorn, and two `cargo lambda watch --only-lambda-apis` runtime emulators running the real
#   Lambda binaries (controller-lambda and notify-lambda, release builds).
#
#   Scheduled path: users registered with `footfall users add` -> EventBridge scheduled event ->
#   controller Lambda (database URL from Secrets Manager) reads the config table -> one ECS
#   RunTask per user (payloads read back with DescribeTasks) -> footfall-task run once per
#   payload -> MySQL rows, CSV lines and pictures in S3, and (threshold 1) the notification
#   Lambda: picture by key, SNS message with a signed link, which the controller's picture route
#   redirects to the stored JPEG.
#   Ad-hoc path: API Gateway POST /run -> controller -> RunTask (ad-hoc task definition) ->
#   footfall-task -> result stored and POSTed, signed with the key from Secrets Manager, to the
#   receiver, which verifies the signature and the picture; a forged and an unsigned POST are
#   refused.
#
# Last line: `e2e tasks=N rows=N csv_lines=N notifications=N callbacks=N alert_routing=ok`
# (counts observed in ECS, MySQL, S3, SNS and the receiver's log; alert_routing: each user's
# address subscribed, filtered to that user only). Exit status 0 only when tasks=3 rows=3
# csv_lines=3 notifications>=2 callbacks=1 alert_routing=ok, and the link and refusal checks
# passed.
#
# FOOTFALL_E2E_CONTAINER=1 runs each task in the task image (scripts/run-task-image.sh,
# built by scripts/build-task-image.sh) instead of the host binary.
#
# Needs: moto_server, aws CLI, cargo-lambda + ziglang, fastapi + uvicorn (all in the venv made by
# scripts/setup.sh, see scripts/env.sh), MariaDB at 127.0.0.1:3306 (root, no password; started
# if down), ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh
footfall_need_venv
CARGO_TARGET_DIR="$(footfall_target_dir)"
export CARGO_TARGET_DIR
shared="$FOOTFALL_SHARED"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL || true
mysql_url_base="${FOOTFALL_MYSQL_URL:-mysql://root@127.0.0.1:3306}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
log() { echo "[e2e] $*" >&2; }
work=$(mktemp -d -t footfall-e2e.XXXXXX)
pids=()
db="footfall_e2e_$$"
app_user="footfall_e2e_app_$$"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  mysql -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $db; DROP USER IF EXISTS '$app_user'@'%'" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_http() { # url
  for _ in $(seq 1 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done
  log "no answer from $1"; return 1
}

log "building the binaries (release)"
# The same target set as scripts/test.sh, so features unify the same way and nothing rebuilds.
cargo build --release -q --workspace --all-targets
bin="$CARGO_TARGET_DIR/release"

# ---------------------------------------------------------------- servers
moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
moto="http://127.0.0.1:$moto_port"
wait_http "$moto/moto-api/data.json"
log "moto on $moto"
aws_m() { aws --endpoint-url "$moto" "$@"; }

if ! mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
  log "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 1 50); do mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
mysql -h 127.0.0.1 -u root -e "CREATE DATABASE $db"
# Migrations: the explicit admin command (nothing migrates on connect). Then the application's
# login, with data rights only (no CREATE, ALTER, DROP, INDEX).
"$bin/footfall" db migrate --db "$mysql_url_base/$db" >"$work/migrate.log" 2>&1 \
  || { cat "$work/migrate.log" >&2; exit 1; }
app_password="e2e-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mysql -h 127.0.0.1 -u root -e "CREATE USER '$app_user'@'%' IDENTIFIED BY '$app_password';
  GRANT SELECT, INSERT, UPDATE, DELETE ON $db.* TO '$app_user'@'%'"
database_url="mysql://$app_user:$app_password@127.0.0.1:3306/$db"
if mysql -h 127.0.0.1 -u "$app_user" -p"$app_password" "$db" -e "CREATE TABLE ddl_probe (x INT)" 2>/dev/null; then
  log "the application user could create a table"; exit 1
fi
log "MariaDB database $db: $(grep -c . "$work/migrate.log") lines from footfall db migrate; app user $app_user (DML only)"

hls_port=$(free_port)
python3 -m http.server "$hls_port" --bind 127.0.0.1 --directory "$shared/video/hls" >"$work/hls.log" 2>&1 &
pids+=($!)
stream="http://127.0.0.1:$hls_port/people.m3u8"
wait_http "$stream"
log "HLS stream $stream"

# ---------------------------------------------------------------- AWS resources (moto)
bucket="footfall-e2e-$$"
aws_m s3api create-bucket --bucket "$bucket" >/dev/null
alert_topic=$(aws_m sns create-topic --name footfall-alerts --query TopicArn --output text)
error_topic=$(aws_m sns create-topic --name footfall-errors --query TopicArn --output text)
cluster=footfall-e2e
aws_m ecs create-cluster --cluster-name "$cluster" >/dev/null
for kind in scheduled adhoc; do
  # memoryReservation: moto needs a container memory value; `memory` would come back as a
  # number that the Rust SDK cannot parse.
  aws_m ecs register-task-definition --family "footfall-$kind" --network-mode awsvpc \
    --requires-compatibilities FARGATE --cpu 1024 --memory 2048 \
    --container-definitions '[{"name":"task","image":"footfall-task:e2e","memoryReservation":2048,"essential":true}]' >/dev/null
done
subnet=$(aws_m ec2 describe-subnets --query 'Subnets[0].SubnetId' --output text)
sg=$(aws_m ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId' --output text)
log "ECS cluster $cluster, subnet $subnet, security group $sg"
# Secrets Manager: the database URL (JSON with "url", as the stack's database secret), the key
# that signs callbacks (shared with the receiver) and the key that signs picture links.
db_secret=$(aws_m secretsmanager create-secret --name "footfall-db-$$" \
  --secret-string "{\"url\":\"$database_url\"}" --query ARN --output text)
callback_secret=$(aws_m secretsmanager create-secret --name "footfall-callback-$$" \
  --secret-string "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" --query ARN --output text)
link_secret=$(aws_m secretsmanager create-secret --name "footfall-links-$$" \
  --secret-string "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" --query ARN --output text)
log "secrets: database, callback key, link key"

receiver_port=$(free_port)
(cd "$root/testing/callback-receiver" && exec env AWS_ENDPOINT_URL="$moto" \
  CALLBACK_SECRET_ARN="$callback_secret" RECEIVER_LOG="$work/received.jsonl" \
  python3 -m uvicorn receiver:app --host 127.0.0.1 --port "$receiver_port" --log-level warning) \
  >"$work/receiver.log" 2>&1 &
pids+=($!)
receiver="http://127.0.0.1:$receiver_port"
wait_http "$receiver/healthz"
: >"$work/received.jsonl"
log "result receiver (FastAPI) on $receiver"

# ---------------------------------------------------------------- Lambdas (runtime emulators)
start_lambda() { # name port binary [env...]
  local name=$1 port=$2 binary=$3; shift 3
  (cd "$root" && exec cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P "$port") >"$work/watch-$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do grep -qs "starting Runtime server" "$work/watch-$name.log" && break; sleep 0.2; done
  date +%s%N >"$work/$name.spawned"
  env AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt" AWS_LAMBDA_FUNCTION_NAME=_ \
    AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 "$@" "$binary" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
notify_port=$(free_port)
link_base="https://api.e2e.example/v1"
start_lambda notify "$notify_port" "$bin/notify-lambda" AWS_ENDPOINT_URL="$moto" \
  ALERT_BUCKET="$bucket" ALERT_TOPIC_ARN="$alert_topic" ALERT_THRESHOLD=1 \
  ALERT_COOLDOWN_SECONDS=3600 FOOTFALL_ALLOW_PRIVATE_STREAMS=true \
  PICTURE_LINK_BASE="$link_base" LINK_SECRET_ARN="$link_secret"
controller_port=$(free_port)
start_lambda controller "$controller_port" "$bin/controller-lambda" AWS_ENDPOINT_URL="$moto" \
  ECS_CLUSTER="$cluster" TASK_DEFINITION_SCHEDULED=footfall-scheduled TASK_DEFINITION_ADHOC=footfall-adhoc \
  TASK_CONTAINER_NAME=task TASK_SUBNETS="$subnet" TASK_SECURITY_GROUPS="$sg" \
  FOOTFALL_ALLOW_PRIVATE_STREAMS=true DATABASE_SECRET_ARN="$db_secret" \
  PICTURES_BUCKET="$bucket" LINK_SECRET_ARN="$link_secret"
log "controller Lambda on :$controller_port, notification Lambda on :$notify_port"

# ---------------------------------------------------------------- the flow
invoke_controller() { # event-file out-file
  aws --cli-read-timeout 120 --endpoint-url "http://127.0.0.1:$controller_port" lambda invoke \
    --function-name _ --payload "file://$1" "$2" >/dev/null
}
# Users, registered in the config table by the CLI through the application's login.
for u in 1 2; do
  "$bin/footfall" users add "e2e_user_$u" --db "$database_url" --url "$stream" \
    --email "user$u@example.com" --threshold 1 >>"$work/users.log" 2>&1 \
    || { cat "$work/users.log" >&2; exit 1; }
done
# Scheduled path: EventBridge's event for this hour's tick; the controller reads the users.
event_id="e2e-$(date +%s)-$$"
tick=$(date -u +%Y-%m-%dT%H:00:00Z)
cat >"$work/event.json" <<EOF
{"version":"0","id":"$event_id","detail-type":"Scheduled Event","source":"aws.events",
 "account":"123456789012","time":"$tick","region":"us-east-1","resources":[],"detail":{}}
EOF
invoke_controller "$work/event.json" "$work/controller-out.json"
log "controller (scheduled) answered: $(cat "$work/controller-out.json")"
# Ad-hoc path: API Gateway's proxy event for POST /run.
adhoc_id="e2e-adhoc-$$"
python3 - "$stream" "$adhoc_id" >"$work/api.json" <<'EOF'
import json, sys
body = {"source": "API_GATEWAY", "user_id": "e2e_user_1", "streaming_URL": sys.argv[1],
        "email": "user1@example.com", "Monitoring_status": True}
print(json.dumps({"resource": "/run", "path": "/run", "httpMethod": "POST",
                  "headers": {"content-type": "application/json"},
                  "requestContext": {"requestId": sys.argv[2], "stage": "v1"},
                  "body": json.dumps(body), "isBase64Encoded": False}))
EOF
invoke_controller "$work/api.json" "$work/api-out.json"
api_status=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["statusCode"])' "$work/api-out.json")
log "controller (API) answered $api_status"

aws_m ecs list-tasks --cluster "$cluster" --query 'taskArns' --output json >"$work/tasks.json"
python3 - "$work/tasks.json" >"$work/task-arns.txt" <<'EOF'
import json, sys
print("\n".join(json.load(open(sys.argv[1]))))
EOF
tasks=$(grep -c . "$work/task-arns.txt" || true)
# shellcheck disable=SC2046
aws_m ecs describe-tasks --cluster "$cluster" --tasks $(cat "$work/task-arns.txt") --output json >"$work/describe.json"
python3 - "$work/describe.json" "$work/payloads" <<'EOF'
import json, os, sys
d = json.load(open(sys.argv[1]))
os.makedirs(sys.argv[2], exist_ok=True)
for i, t in enumerate(d["tasks"]):
    env = t["overrides"]["containerOverrides"][0]["environment"]
    payload = next(e["value"] for e in env if e["name"] == "FOOTFALL_PAYLOAD")
    p = json.loads(payload)
    assert p["streaming_URL"].endswith("people.m3u8"), p
    group = {"EVENTBRIDGE": "footfall-scheduled", "API_GATEWAY": "footfall-adhoc"}[p["source"]]
    assert t["group"] == group and t["startedBy"][:4] in ("ffs-", "ffa-"), t
    open(os.path.join(sys.argv[2], f"{i}.json"), "w").write(payload)
EOF
log "ECS tasks: $tasks (payload overrides checked with DescribeTasks)"

# Each task runs with its task definition's environment (deploy/template.yaml): the scheduled
# one stores; the ad-hoc one stores and posts its signed result.
run_task() { # log-file env...
  local out=$1; shift
  if [ "${FOOTFALL_E2E_CONTAINER:-0}" = 1 ]; then
    local names=()
    for kv in "$@"; do names+=("${kv%%=*}"); done
    env "$@" "$root/scripts/run-task-image.sh" "${names[@]}" >"$out" 2>&1
  else
    env "$@" FOOTFALL_SHARED="$shared" FOOTFALL_WEIGHTS="$shared/weights/yolox_nano.onnx" \
      "$bin/footfall-task" >"$out" 2>&1
  fi
}
if [ "${FOOTFALL_E2E_CONTAINER:-0}" = 1 ]; then
  log "tasks run in the container image footfall-task:dev ($(podman image inspect footfall-task:dev --format '{{.Id}}' | cut -c1-12), scripts/run-task-image.sh)"
fi
task_failures=0
for f in "$work"/payloads/*.json; do
  user=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["user_id"])' "$f")
  source=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["source"])' "$f")
  extra=()
  if [ "$source" = API_GATEWAY ]; then
    extra=(CALLBACK_URL="$receiver/results" CALLBACK_SECRET_ARN="$callback_secret")
  fi
  set +e
  run_task "$work/task-$source-$user.log" FOOTFALL_PAYLOAD="$(cat "$f")" AWS_ENDPOINT_URL="$moto" \
    AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:$notify_port" NOTIFY_FUNCTION_NAME=_ \
    AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
    AWS_SESSION_TOKEN="$AWS_SESSION_TOKEN" AWS_REGION="$AWS_REGION" \
    RESULTS_BUCKET="$bucket" DATABASE_URL="$database_url" ERROR_TOPIC_ARN="$error_topic" \
    ALERT_THRESHOLD=1 FOOTFALL_ALLOW_PRIVATE_STREAMS=true RETRY_ATTEMPTS=2 RETRY_BASE_MS=200 \
    WATCH_SECONDS=30 "${extra[@]}"
  rc=$?
  set -e
  log "footfall-task $source $user exit $rc: $(grep '"job_finished"' "$work/task-$source-$user.log" | head -c 600)"
  [ "$rc" -eq 0 ] || task_failures=$((task_failures + 1))
done
sleep 1

# ---------------------------------------------------------------- observe
rows=$(mysql -h 127.0.0.1 -u root -N -e "SELECT COUNT(*) FROM $db.result WHERE run_id IN ('$event_id', '$adhoc_id') AND image_ref LIKE 'pictures/%'" 2>/dev/null || echo 0)
csv_lines=0
for u in e2e_user_1 e2e_user_2; do
  if aws_m s3 cp "s3://$bucket/$u.csv" "$work/$u.csv" >/dev/null 2>&1; then
    n=$(grep -c -e "^$event_id," -e "^$adhoc_id," "$work/$u.csv" || true)
    csv_lines=$((csv_lines + n))
  fi
done
jpegs=$(aws_m s3api list-objects-v2 --bucket "$bucket" --prefix pictures/ --query 'Contents[].Key' --output text 2>/dev/null | tr '\t' '\n' | grep -c '\.jpg$' || true)
callbacks=$(python3 - "$work/received.jsonl" "$adhoc_id" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(sum(1 for r in lines if r["run_id"] == sys.argv[2] and r["picture_bytes"] > 1000
          and r["people_count"] >= 0 and r["health"] == "ok"))
EOF
)
# The receiver refuses what the task did not sign: a forged signature and no signature.
forged=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$receiver/results" -H 'content-type: application/json' \
  -H "Footfall-Signature: t=$(date +%s),v1=$(printf '0%.0s' $(seq 64))" --data '{"run_id":"forged"}')
unsigned=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$receiver/results" -H 'content-type: application/json' \
  --data '{"run_id":"unsigned"}')
log "receiver: $callbacks signed result(s) accepted; forged POST answered $forged, unsigned $unsigned"

# The alert email's link: the controller's picture route checks its signature and redirects to
# the stored picture.
curl -s "$moto/moto-api/data.json" >"$work/moto-data.json"
python3 - "$work/moto-data.json" "$alert_topic" >"$work/link.txt" <<'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
texts = [x for t in d.get("sns", {}).get("Topic", []) if t["arn"] == sys.argv[2]
         for m in t["sent_notifications"] for x in m if isinstance(x, str)]
urls = [u for x in texts for u in re.findall(r"https://[^\s\"]+", x) if "/pictures/" in u]
print(urls[0] if urls else "")
EOF
link=$(cat "$work/link.txt")
link_check=missing
if [ -n "$link" ]; then
  python3 - "$link" "$link_base" >"$work/link-event.json" <<'EOF'
import json, sys, urllib.parse
url, base = sys.argv[1], sys.argv[2]
parts = urllib.parse.urlsplit(url)
proxy = url[len(base) + len("/pictures/"):].split("?")[0]
query = dict(urllib.parse.parse_qsl(parts.query))
print(json.dumps({"resource": "/pictures/{proxy+}", "path": "/pictures/" + proxy, "httpMethod": "GET",
                  "pathParameters": {"proxy": proxy}, "queryStringParameters": query,
                  "requestContext": {"requestId": "e2e-link", "stage": "v1"}}))
EOF
  invoke_controller "$work/link-event.json" "$work/link-out.json"
  location=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["headers"]["location"] if r["statusCode"] == 302 else "")' "$work/link-out.json")
  key="pictures/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pathParameters"]["proxy"])' "$work/link-event.json")"
  aws_m s3 cp "s3://$bucket/$key" "$work/stored.jpg" >/dev/null
  if [ -n "$location" ] && curl -sf -o "$work/linked.jpg" "$location" && cmp -s "$work/stored.jpg" "$work/linked.jpg"; then
    link_check=ok
  else
    link_check="bad:$(cat "$work/link-out.json")"
  fi
fi
log "alert email link $link -> $link_check"
notifications=$(curl -s "$moto/moto-api/data.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(len(t["sent_notifications"]) for t in d.get("sns", {}).get("Topic", []) if t["arn"] == sys.argv[1]))' "$alert_topic")
errors=$(curl -s "$moto/moto-api/data.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(len(t["sent_notifications"]) for t in d.get("sns", {}).get("Topic", []) if t["arn"] == sys.argv[1]))' "$error_topic")
log "alert JPEGs in S3: $jpegs, error notifications: $errors, failed tasks: $task_failures"

# Alert routing: the notification Lambda subscribed each user's own address to the alert topic,
# filtered to that user's id, and nothing else is subscribed (no address receives another user's
# alerts). Every alert is published with its user_id attribute, so the filter decides.
aws_m sns list-subscriptions-by-topic --topic-arn "$alert_topic" --output json >"$work/subscriptions.json"
: >"$work/policies.txt"
for arn in $(python3 -c 'import json,sys; print(" ".join(s["SubscriptionArn"] for s in json.load(open(sys.argv[1]))["Subscriptions"] if s["SubscriptionArn"].startswith("arn:")))' "$work/subscriptions.json"); do
  aws_m sns get-subscription-attributes --subscription-arn "$arn" --output json >>"$work/policies.txt"
done
alert_routing=$(python3 - "$work/subscriptions.json" "$work/policies.txt" <<'ROUTING'
import json, sys
subs = json.load(open(sys.argv[1]))["Subscriptions"]
text = open(sys.argv[2]).read()
decoder, attributes, i = json.JSONDecoder(), {}, 0
while i < len(text):
    if text[i].isspace():
        i += 1
        continue
    doc, i = decoder.raw_decode(text, i)
    a = doc["Attributes"]
    attributes[a["SubscriptionArn"]] = a
expected = {"user1@example.com": ["e2e_user_1"], "user2@example.com": ["e2e_user_2"]}
seen = {}
for s in subs:
    policy = json.loads(attributes.get(s["SubscriptionArn"], {}).get("FilterPolicy") or "{}")
    if s["Protocol"] != "email" or policy.get("user_id") != expected.get(s["Endpoint"]):
        print(f"bad:{s['Endpoint']}")
        sys.exit()
    seen[s["Endpoint"]] = policy["user_id"]
print("ok" if seen == expected else "missing:" + ",".join(sorted(set(expected) - set(seen))))
ROUTING
)
log "alert subscriptions: $(python3 -c 'import json,sys; print([(s["Protocol"], s["Endpoint"]) for s in json.load(open(sys.argv[1]))["Subscriptions"]])' "$work/subscriptions.json"): $alert_routing"

# Cold start (issue 14), from the logs of this run: each task's process start to its detector
# loaded and to the end of its first forward pass; each Lambda's main to ready for events.
python3 - "$work" <<'COLD' || true
import glob, json, os, sys
def events(path, key):
    if not os.path.exists(path):
        return
    for line in open(path, errors="replace"):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and key(doc):
            yield doc
work = sys.argv[1]
for path in sorted(glob.glob(f"{work}/task-*.log")):
    ready = [d["since_start_ms"] for d in events(path, lambda d: d.get("event") == "detector_ready")]
    first = [d["since_start_ms"] for d in events(path, lambda d: d.get("event") == "first_detection")]
    print(f"[e2e] cold start {os.path.basename(path)[:-4]}: detector ready {ready[0] if ready else '?'} ms,"
          f" first detection {first[0] if first else '?'} ms after the process started")
for name in ("controller", "notify"):
    init = [d.get("fields", d) for d in
            events(f"{work}/{name}.log", lambda d: "init_ms" in d.get("fields", d))]
    spawned_ms = int(open(f"{work}/{name}.spawned").read()) / 1e6
    since_spawn = (f"{init[0]['ready_unix_ms'] - spawned_ms:.1f}"
                   if init and "ready_unix_ms" in init[0] else "?")
    print(f"[e2e] cold start {name} Lambda: ready {round(init[0]['init_ms'], 1) if init else '?'} ms"
          f" after main, {since_spawn} ms after the process was spawned")
COLD

status=0
if [ "$tasks" -ne 3 ] || [ "$rows" -ne 3 ] || [ "$csv_lines" -ne 3 ] || [ "$notifications" -lt 2 ] \
  || [ "$jpegs" -lt 3 ] || [ "$callbacks" -ne 1 ] || [ "$alert_routing" != ok ] || [ "$api_status" != 202 ] \
  || [ "$forged" != 401 ] || [ "$unsigned" != 401 ] || [ "$link_check" != ok ]; then
  status=1
fi
echo "e2e tasks=$tasks rows=$rows csv_lines=$csv_lines notifications=$notifications callbacks=$callbacks alert_routing=$alert_routing"
exit $status

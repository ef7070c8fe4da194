#!/usr/bin/env bash
# End-to-end flow of the AWS deployment on loopback, against freshly started servers:
#
#   moto_server (S3, SNS, ECS, EC2 network ids) on a free port, MariaDB (a database created for
#   this run and dropped afterwards), the shared HLS video on a loopback HTTP server, and two
#   `cargo lambda watch --only-lambda-apis` runtime emulators running the real Lambda binaries
#   (controller-lambda and notify-lambda, release builds).
#
#   EventBridge event for two users -> controller Lambda -> two ECS RunTask calls (payloads read
#   back with DescribeTasks) -> footfall-task run once per payload -> MySQL rows, CSV lines in
#   S3, and (threshold 1) the notification Lambda: JPEG in S3 + message in SNS.
#
# Last line: `e2e tasks=N rows=N csv_lines=N notifications=N alert_routing=ok` (counts observed in
# ECS, MySQL, S3 and SNS; alert_routing: each user's address subscribed, filtered to that user
# only). Exit status 0 only when tasks=2 rows=2 csv_lines=2 notifications>=1 alert_routing=ok.
#
# Needs: moto_server, aws CLI, cargo-lambda + ziglang (all in the venv made by scripts/setup.sh,
# see scripts/env.sh), MariaDB at 127.0.0.1:3306 (root, no password; started if down), ../shared.
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
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  mysql -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $db" 2>/dev/null || true
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
database_url="$mysql_url_base/$db"
log "MariaDB database $db"

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

# ---------------------------------------------------------------- Lambdas (runtime emulators)
start_lambda() { # name port binary [env...]
  local name=$1 port=$2 binary=$3; shift 3
  (cd "$root" && exec cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P "$port") >"$work/watch-$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do grep -qs "starting Runtime server" "$work/watch-$name.log" && break; sleep 0.2; done
  env AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt" AWS_LAMBDA_FUNCTION_NAME=_ \
    AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 "$@" "$binary" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
notify_port=$(free_port)
start_lambda notify "$notify_port" "$bin/notify-lambda" AWS_ENDPOINT_URL="$moto" \
  ALERT_BUCKET="$bucket" ALERT_TOPIC_ARN="$alert_topic" ALERT_THRESHOLD=1 \
  ALERT_COOLDOWN_SECONDS=3600 FOOTFALL_ALLOW_PRIVATE_STREAMS=true
controller_port=$(free_port)
start_lambda controller "$controller_port" "$bin/controller-lambda" AWS_ENDPOINT_URL="$moto" \
  ECS_CLUSTER="$cluster" TASK_DEFINITION_SCHEDULED=footfall-scheduled TASK_DEFINITION_ADHOC=footfall-adhoc \
  TASK_CONTAINER_NAME=task TASK_SUBNETS="$subnet" TASK_SECURITY_GROUPS="$sg" \
  FOOTFALL_ALLOW_PRIVATE_STREAMS=true
log "controller Lambda on :$controller_port, notification Lambda on :$notify_port"

# ---------------------------------------------------------------- the flow
event_id="e2e-$(date +%s)-$$"
cat >"$work/event.json" <<EOF
{"source":"EVENTBRIDGE","id":"$event_id","users":[
 {"user_id":"e2e_user_1","streaming_URL":"$stream","email":"user1@example.com","Monitoring_status":true},
 {"user_id":"e2e_user_2","streaming_URL":"$stream","email":"user2@example.com","Monitoring_status":true}]}
EOF
aws --cli-read-timeout 120 --endpoint-url "http://127.0.0.1:$controller_port" lambda invoke \
  --function-name _ --payload "file://$work/event.json" "$work/controller-out.json" >/dev/null
log "controller answered: $(cat "$work/controller-out.json")"

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
    assert p["source"] == "EVENTBRIDGE" and p["streaming_URL"].endswith("people.m3u8"), p
    assert t["startedBy"].startswith("ffs-") and t["group"] == "footfall-scheduled", t
    open(os.path.join(sys.argv[2], f"{i}.json"), "w").write(payload)
EOF
log "ECS tasks: $tasks (payload overrides checked with DescribeTasks)"

task_failures=0
for f in "$work"/payloads/*.json; do
  user=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["user_id"])' "$f")
  set +e
  env FOOTFALL_PAYLOAD="$(cat "$f")" AWS_ENDPOINT_URL="$moto" \
    AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:$notify_port" NOTIFY_FUNCTION_NAME=_ \
    RESULTS_BUCKET="$bucket" DATABASE_URL="$database_url" ERROR_TOPIC_ARN="$error_topic" \
    ALERT_THRESHOLD=1 FOOTFALL_ALLOW_PRIVATE_STREAMS=true RETRY_ATTEMPTS=2 RETRY_BASE_MS=200 \
    FOOTFALL_SHARED="$shared" FOOTFALL_WEIGHTS="$shared/weights/yolox_nano.onnx" \
    "$bin/footfall-task" >"$work/task-$user.log" 2>&1
  rc=$?
  set -e
  log "footfall-task $user exit $rc: $(grep '"job_finished"' "$work/task-$user.log" | head -c 600)"
  [ "$rc" -eq 0 ] || task_failures=$((task_failures + 1))
done
sleep 1

# ---------------------------------------------------------------- observe
rows=$(mysql -h 127.0.0.1 -u root -N -e "SELECT COUNT(*) FROM $db.result WHERE run_id = '$event_id'" 2>/dev/null || echo 0)
csv_lines=0
for u in e2e_user_1 e2e_user_2; do
  if aws_m s3 cp "s3://$bucket/$u.csv" "$work/$u.csv" >/dev/null 2>&1; then
    n=$(grep -c "^$event_id," "$work/$u.csv" || true)
    csv_lines=$((csv_lines + n))
  fi
done
jpegs=$(aws_m s3api list-objects-v2 --bucket "$bucket" --prefix alerts/ --query 'Contents[].Key' --output text 2>/dev/null | tr '\t' '\n' | grep -c '\.jpg$' || true)
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

status=0
if [ "$tasks" -ne 2 ] || [ "$rows" -ne 2 ] || [ "$csv_lines" -ne 2 ] || [ "$notifications" -lt 1 ] || [ "$jpegs" -lt 1 ] || [ "$alert_routing" != ok ]; then
  status=1
fi
echo "e2e tasks=$tasks rows=$rows csv_lines=$csv_lines notifications=$notifications alert_routing=$alert_routing"
exit $status

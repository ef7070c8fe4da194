#!/usr/bin/env bash
# The two Lambda binaries (release builds) under the Lambda runtime API emulator of
# `cargo lambda watch --only-lambda-apis`, against a fresh moto_server on a free loopback port:
#
# - notify-lambda, invoked asynchronously (InvocationType=Event) with a real JPEG: the image must
#   land at alerts/{user_id}/{DATE-TIME}.jpg and one message must reach the SNS topic; a second
#   alert within the cooldown must not; a 50 MB payload and a `../` user id must be refused.
# - controller-lambda, invoked with an API Gateway proxy event: 202 and one ECS task; a hostile
#   payload: 400 naming the field, no task.
#
# Prints `lambda-smoke ok` as its last line on success.
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
fail() { echo "lambda-smoke FAILED: $*" >&2; exit 1; }
work=$(mktemp -d -t footfall-smoke.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -q --workspace --all-targets
bin="$CARGO_TARGET_DIR/release"

port=$(free_port)
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
pids+=($!)
moto="http://127.0.0.1:$port"
for _ in $(seq 1 150); do curl -sf -o /dev/null "$moto/moto-api/data.json" && break; sleep 0.2; done
aws_m() { aws --endpoint-url "$moto" "$@"; }

start_lambda() { # name port binary [env...]
  local name=$1 port=$2 binary=$3; shift 3
  (cd "$root" && exec cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P "$port") >"$work/watch-$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do grep -qs "starting Runtime server" "$work/watch-$name.log" && break; sleep 0.2; done
  env AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt" AWS_LAMBDA_FUNCTION_NAME=_ \
    AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 "$@" "$binary" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
invoke() { # port payload-file out-file [invocation type]
  aws --cli-read-timeout 60 --endpoint-url "http://127.0.0.1:$1" lambda invoke --function-name _ \
    --invocation-type "${4:-RequestResponse}" --payload "file://$2" "$3" >"$3.meta" 2>&1 || true
}
sent() { curl -s "$moto/moto-api/data.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(len(t["sent_notifications"]) for t in d.get("sns", {}).get("Topic", []) if t["arn"] == sys.argv[1]))' "$1"; }

# ---------------------------------------------------------------- notify-lambda
bucket="smoke-$$"
aws_m s3api create-bucket --bucket "$bucket" >/dev/null
topic=$(aws_m sns create-topic --name smoke-alerts --query TopicArn --output text)
np=$(free_port)
start_lambda notify "$np" "$bin/notify-lambda" AWS_ENDPOINT_URL="$moto" ALERT_BUCKET="$bucket" \
  ALERT_TOPIC_ARN="$topic" ALERT_THRESHOLD=15 ALERT_COOLDOWN_SECONDS=3600

notification() { # user date-time image-file
  python3 - "$@" <<'EOF'
import base64, json, sys
user, dt, img = sys.argv[1:4]
print(json.dumps({"user_id": user, "DATE-TIME": dt,
  "config": {"Monitoring_status": True, "streaming_URL": "https://cdn.example.com/live.m3u8", "email": "user@example.com"},
  "result": {"people_count": 20},
  "processed_detection_image": base64.b64encode(open(img, "rb").read()).decode()}))
EOF
}
notification user_1 2024-01-01T12:00:00Z "$shared/images/zidane.jpg" >"$work/n1.json"
invoke "$np" "$work/n1.json" "$work/n1.out" Event
aws_m s3api head-object --bucket "$bucket" --key "alerts/user_1/2024-01-01T12:00:00Z.jpg" >/dev/null \
  || fail "no alert image in S3 ($(cat "$work/n1.out" "$work/notify.log" 2>/dev/null | tail -c 500))"
[ "$(sent "$topic")" = 1 ] || fail "expected one SNS message"
notification user_1 2024-01-01T12:20:00Z "$shared/images/zidane.jpg" >"$work/n2.json"
invoke "$np" "$work/n2.json" "$work/n2.out" Event
grep -q cooldown "$work/n2.out" || fail "second alert not held back by the cooldown: $(cat "$work/n2.out")"
[ "$(sent "$topic")" = 1 ] || fail "cooldown did not hold"
python3 - "$work/n1.json" "$work/big.json" "$work/evil.json" <<'EOF'
import json, sys
n = json.load(open(sys.argv[1]))
big = dict(n, processed_detection_image="A" * (50 * 1024 * 1024)); json.dump(big, open(sys.argv[2], "w"))
evil = dict(n, user_id="../../etc"); json.dump(evil, open(sys.argv[3], "w"))
EOF
# A handler error comes back as a failed invocation; the function's log names the field.
invoke "$np" "$work/evil.json" "$work/evil.out"
grep -q 'BadPayload(Invalid { field: \\"user_id\\"' "$work/notify.log" || fail "hostile user id not refused"
invoke "$np" "$work/big.json" "$work/big.out"
grep -q 'TooLarge { field: \\"processed_detection_image\\"' "$work/notify.log" || fail "50 MB image not refused"
[ "$(sent "$topic")" = 1 ] || fail "a refused payload was published"
keys=$(aws_m s3api list-objects-v2 --bucket "$bucket" --query 'Contents[].Key' --output text | tr '\t' '\n' | grep -c '\.jpg$')
[ "$keys" = 1 ] || fail "expected exactly one alert image, found $keys"
echo "notify-lambda under cargo lambda watch: image stored, 1 message, cooldown and hostile payloads held"

# ---------------------------------------------------------------- controller-lambda
aws_m ecs create-cluster --cluster-name smoke >/dev/null
aws_m ecs register-task-definition --family smoke-adhoc --network-mode awsvpc --requires-compatibilities FARGATE \
  --cpu 1024 --memory 2048 --container-definitions '[{"name":"task","image":"x","memoryReservation":2048}]' >/dev/null
subnet=$(aws_m ec2 describe-subnets --query 'Subnets[0].SubnetId' --output text)
sg=$(aws_m ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId' --output text)
cp_=$(free_port)
start_lambda controller "$cp_" "$bin/controller-lambda" AWS_ENDPOINT_URL="$moto" ECS_CLUSTER=smoke \
  TASK_DEFINITION_SCHEDULED=smoke-adhoc TASK_DEFINITION_ADHOC=smoke-adhoc TASK_CONTAINER_NAME=task \
  TASK_SUBNETS="$subnet" TASK_SECURITY_GROUPS="$sg"
python3 - "$work/api.json" "$work/api-bad.json" <<'EOF'
import json, sys
body = {"source": "API_GATEWAY", "user_id": "user_1", "streaming_URL": "https://cdn.example.com/live.m3u8",
        "email": "user@example.com", "Monitoring_status": True}
ev = {"httpMethod": "POST", "path": "/run", "requestContext": {"requestId": "smoke-req-1"}}
json.dump(dict(ev, body=json.dumps(body)), open(sys.argv[1], "w"))
bad = dict(body, streaming_URL="http://169.254.169.254/latest/meta-data/")
json.dump(dict(ev, body=json.dumps(bad)), open(sys.argv[2], "w"))
EOF
invoke "$cp_" "$work/api.json" "$work/api.out"
grep -q '"statusCode":202' "$work/api.out" || fail "controller did not answer 202: $(cat "$work/api.out")"
invoke "$cp_" "$work/api-bad.json" "$work/api-bad.out"
grep -q '"statusCode":400' "$work/api-bad.out" && grep -q 'streaming_URL' "$work/api-bad.out" \
  || fail "hostile URL not refused with 400: $(cat "$work/api-bad.out")"
n=$(aws_m ecs list-tasks --cluster smoke --query 'length(taskArns)' --output text)
[ "$n" = 1 ] || fail "expected 1 ECS task, found $n"
echo "controller-lambda under cargo lambda watch: 202 + 1 task, SSRF URL refused with 400"
echo "lambda-smoke ok"

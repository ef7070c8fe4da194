#!/usr/bin/env bash
# Validates deploy/template.yaml: cfn-lint (in the venv of scripts/setup.sh), then the template
# tests of deploy/tests/test_template.py (retention, least-privilege IAM, environment wiring against
# the Rust sources, Fargate sizes, error routing, the image's .dockerignore). Negative controls:
# copies with one property broken each must be rejected, so neither check passes vacuously.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
command -v cfn-lint >/dev/null || { echo "cfn-lint missing: run scripts/setup.sh (it installs it into $FOOTFALL_VENV)" >&2; exit 2; }
python3 -c 'import yaml' 2>/dev/null || { echo "PyYAML missing from $FOOTFALL_VENV: run scripts/setup.sh" >&2; exit 2; }
cfn-lint deploy/template.yaml
echo "cfn-lint: deploy/template.yaml OK"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/TopicArn: !Ref ErrorTopic/TopicArn: !Ref ErrorTopicTypo/' deploy/template.yaml > "$tmp/broken.yaml"
if cfn-lint "$tmp/broken.yaml" >/dev/null 2>&1; then
  echo "cfn-lint accepted a template with a dangling reference" >&2
  exit 1
fi
echo "cfn-lint: broken copy rejected (negative control OK)"

python3 -m unittest discover -s deploy/tests -t deploy/tests
echo "template tests: OK"

# Each sed breaks one property the tests guard; the tests must then fail.
mutations=(
  "lifecycle shortened|s/ExpirationInDays: 365/ExpirationInDays: 30/"
  "extra action|0,/Action: lambda:InvokeFunction/s//Action: [lambda:InvokeFunction, lambda:GetFunction]/"
  "resource widened to *|0,/Resource: !Sub \"arn:\${AWS::Partition}:lambda:[^\"]*\"/s//Resource: \"*\"/"
  "variable set that no code reads|0,/Name: ALERT_THRESHOLD,/s//Name: ALERT_THRESHOLDS,/"
  "required variable unset|/ECS_CLUSTER: !Ref Cluster/d"
  "invalid CPU-memory pair accepted|0,/\"7168\", \"8192\"\\], !Ref ScheduledTaskMemory/s//\"7168\", \"8192\", \"16384\"], !Ref ScheduledTaskMemory/"
  "stopped-task rule aimed elsewhere|/Id: error-topic/{n;s/Arn: !Ref ErrorTopic/Arn: !Ref AlertTopic/}"
  "stopped-task rule ignoring exit 2|s/anything-but: \\[0, 1\\]/anything-but: [0, 1, 2]/"
  "on-failure destination removed|/NotifyEventInvokeConfig:/,/Destination:/{/Destination:/d}"
  "alarm on no log group|s/^      MetricName: NotifyErrorLines/      MetricName: NotifyErrorLine/"
  "GPU task definition|s/RequiresCompatibilities: \\[FARGATE\\]/RequiresCompatibilities: [EC2]/"
  'database URL resolved into the controller again|/DATABASE_SECRET_ARN: !Ref DatabaseSecretArn/a\          DATABASE_URL: !Sub "{{resolve:secretsmanager:${DatabaseSecretArn}:SecretString:url}}"'
  "notify role may overwrite the task's pictures|/Sid: ReadTaskPictures/,/Action:/s/Action: s3:GetObject/Action: [s3:GetObject, s3:PutObject]/"
  "controller may read the whole bucket|/Sid: ServePictures/,/Resource:/s|/pictures/\\*|/*|"
  "callback key grant aimed at the link secret|/Sid: CallbackSigningKey/,/Resource:/s/Resource: !Ref CallbackSecret/Resource: !Ref LinkSecret/"
  "callbacks unsigned|/Name: CALLBACK_SECRET_ARN,/d"
  "picture route behind the API key|/Path: \\/pictures\\/{proxy+}/,/ApiKeyRequired/s/ApiKeyRequired: false/ApiKeyRequired: true/"
  "run route without the API key|/Path: \\/run/,/ApiKeyRequired/s/ApiKeyRequired: true/ApiKeyRequired: false/"
  "picture links outliving the pictures|/^  PictureLinkDays:/,/MaxValue/s/MaxValue: 365/MaxValue: 3650/"
  # cfn-lint 1.x does not see this cycle (it checks the template before the SAM transform), so the
  # tests model SAM's Api -> function edge: a task definition depending on NotifyFunction again
  # closes NotifyFunction -> Api -> ControllerFunction -> ScheduledTaskDefinition -> NotifyFunction.
  "dependency cycle through the notification Lambda|/^  ScheduledTaskDefinition:/a\    DependsOn: NotifyFunction"
)
for m in "${mutations[@]}"; do
  what=${m%%|*}
  sed "${m#*|}" deploy/template.yaml > "$tmp/mutant.yaml"
  if cmp -s deploy/template.yaml "$tmp/mutant.yaml"; then
    echo "negative control '$what' changed nothing: update it to the template" >&2
    exit 1
  fi
  if FOOTFALL_TEMPLATE="$tmp/mutant.yaml" python3 -m unittest discover -s deploy/tests -t deploy/tests >/dev/null 2>&1; then
    echo "template tests accepted a copy with: $what" >&2
    exit 1
  fi
done
echo "template tests: ${#mutations[@]} broken copies rejected (negative controls OK)"

# Repository hygiene: no credentials or private keys in deploy/ or scripts/.
if grep -rEn 'AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|aws_secret_access_key *= *[A-Za-z0-9/+]{30,}' deploy scripts adapters --include='*' \
     | grep -v 'scripts/lint-deploy.sh'; then
  echo "credential-like content found" >&2
  exit 1
fi
echo "no credentials in deploy/, scripts/, adapters/"

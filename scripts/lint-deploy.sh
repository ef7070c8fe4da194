#!/usr/bin/env bash
# Validates deploy/template.yaml with cfn-lint (in the venv of scripts/setup.sh), and checks that the
# lint really catches mistakes (a copy with a broken reference must fail).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
command -v cfn-lint >/dev/null || { echo "cfn-lint missing: run scripts/setup.sh (it installs it into $FOOTFALL_VENV)" >&2; exit 2; }
cfn-lint deploy/template.yaml
echo "cfn-lint: deploy/template.yaml OK"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/TopicArn: !Ref AlertTopic/TopicArn: !Ref AlertTopicTypo/' deploy/template.yaml > "$tmp/broken.yaml"
if cfn-lint "$tmp/broken.yaml" >/dev/null 2>&1; then
  echo "cfn-lint accepted a template with a dangling reference" >&2
  exit 1
fi
echo "cfn-lint: broken copy rejected (negative control OK)"

# Repository hygiene: no credentials or private keys in deploy/ or scripts/.
if grep -rEn 'AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|aws_secret_access_key *= *[A-Za-z0-9/+]{30,}' deploy scripts adapters --include='*' \
     | grep -v 'scripts/lint-deploy.sh'; then
  echo "credential-like content found" >&2
  exit 1
fi
echo "no credentials in deploy/, scripts/, adapters/"

#!/usr/bin/env bash
# Validates a SAM template offline with the tools in .venv (no AWS account, no network):
#   1. sam validate --lint       (SAM's own checks + cfn-lint on the SAM template)
#   2. cfn-lint                  (CloudFormation schema checks on the SAM template)
#   3. aws-sam-translator -> CloudFormation JSON, then cfn-lint on the result: only the
#      translated AWS::Lambda::Function is checked against Lambda's schema, which is what
#      catches a wrong Runtime, Timeout or Architectures on a SAM function.
#   4. tests/py/check_iam.py     (least-privilege policy rules on the translated template)
# Usage: scripts/validate-template.sh [TEMPLATE]   (default template.yaml)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TEMPLATE=${1:-$ROOT/template.yaml}
VENV=${DMSLAKE_VENV:-$ROOT/.venv}
[[ -x $VENV/bin/python ]] || { echo "validate-template: $VENV missing; run scripts/dev-env.sh" >&2; exit 2; }

# Offline: fixed region, dummy credentials, no telemetry.
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_REGION=$AWS_DEFAULT_REGION
export AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline
unset AWS_PROFILE AWS_SESSION_TOKEN
export SAM_CLI_TELEMETRY=0 SAM_CLI_CONTACT_SERVER=0

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
translated=$WORK/translated.json
failed=0

step() { echo "validate-template: $*" >&2; }

step "sam validate --lint $TEMPLATE"
if ! (cd "$WORK" && "$VENV/bin/sam" validate --lint --template-file "$TEMPLATE" >"$WORK/sam.log" 2>&1); then
  cat "$WORK/sam.log" >&2
  failed=1
fi

step "cfn-lint $TEMPLATE"
"$VENV/bin/cfn-lint" "$TEMPLATE" >&2 || failed=1

step "translate (aws-sam-translator) and cfn-lint the CloudFormation result"
if "$VENV/bin/python" "$ROOT/tests/py/sam_translate.py" "$TEMPLATE" "$translated"; then
  "$VENV/bin/cfn-lint" "$translated" >&2 || failed=1
  step "IAM least-privilege check"
  "$VENV/bin/python" "$ROOT/tests/py/check_iam.py" "$translated" >&2 || failed=1
else
  failed=1
fi

if [[ $failed -ne 0 ]]; then
  step "FAILED: $TEMPLATE"
  exit 1
fi
step "ok: $TEMPLATE"

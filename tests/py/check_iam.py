"""Least-privilege check over a translated (plain CloudFormation JSON) dmslake template.

Usage: check_iam.py TRANSLATED_TEMPLATE_JSON

Rules, for every Allow statement of every IAM role policy, IAM policy and resource policy:
  * Action lists specific actions: no `*`, no `service:*`, no `service:Get*`; no NotAction.
  * Every Resource is built from the stack's own resources or parameters: a Ref or GetAtt to
    one of them, or a Sub/Join that references one of them with no wildcard before that
    reference (so `arn:aws:s3:::${Bucket}/${Folder}/*` passes, `arn:aws:s3:::*` does not),
    and a wildcard only as a whole trailing segment (`${Bucket}*` fails).
    A Sub of pseudo parameters alone passes only as an exact, wildcard-free ARN in this
    account and region (the Glue catalog). Hard-coded ARNs and NotResource fail.
  * `Resource: "*"` only when every action of the statement is in STAR_ONLY_ACTIONS, or in a
    KMS key policy (checked like the others), where `*` means that key.
  * No managed policies on roles (they are not scoped to this stack) and every Lambda
    function runs under a role of this stack.
Exit status 1 with one line per violation; 0 when the template is clean.
"""

import json
import re
import sys

# Actions that the Service Authorization Reference lists with no resource type, so they can
# only be granted on "*" (https://docs.aws.amazon.com/service-authorization/latest/reference/).
STAR_ONLY_ACTIONS = {
    # list_awsdatabasemigrationservice.html: DescribeReplicationTasks has no resource type
    # (account-level list); the watcher filters the answer by its task ARNs.
    "dms:DescribeReplicationTasks",
    # list_awsdatabasemigrationservice.html: DescribeReplications (DMS Serverless) has no
    # resource type either; the watcher filters by replication-config ARN.
    "dms:DescribeReplications",
    # list_awsx-ray.html: PutTraceSegments and PutTelemetryRecords have no resource type; the
    # functions with Tracing: Active send their segments with them.
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}

# Managed policies allowed on a role: none (every role carries its own scoped statements).
ALLOWED_MANAGED_POLICIES = set()

POLICY_DOCUMENT_TYPES = {
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::S3::BucketPolicy",
}

PSEUDO = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::URLSuffix"}

ACTION_RE = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
SUB_REF_RE = re.compile(r"\$\{([^}!][^}]*)\}")


class Checker:
    def __init__(self, template):
        self.resources = template.get("Resources", {})
        self.parameters = set(template.get("Parameters", {}))
        self.violations = []
        self.statements = 0

    def fail(self, where, message):
        self.violations.append(f"{where}: {message}")

    # ---- intrinsic helpers ----
    def is_stack_name(self, name):
        """A logical id of this stack's resources or parameters (pseudo parameters are not)."""
        base = name.split(".", 1)[0]
        return base in self.resources or base in self.parameters

    def references_stack(self, value):
        """True when an intrinsic value refers to one of the stack's resources or parameters."""
        if isinstance(value, dict) and len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                return isinstance(arg, str) and self.is_stack_name(arg)
            if fn == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                return target in self.resources
            return any(self.references_stack(v) for v in (arg if isinstance(arg, list) else [arg]))
        if isinstance(value, list):
            return any(self.references_stack(v) for v in value)
        return False

    @staticmethod
    def drop_no_value(items):
        return [i for i in items if i != {"Ref": "AWS::NoValue"}]

    def expand(self, value):
        """Every concrete alternative of a value under Fn::If (both branches), flattened."""
        if isinstance(value, dict) and list(value) == ["Fn::If"]:
            _, yes, no = value["Fn::If"]
            return self.expand(yes) + self.expand(no)
        if isinstance(value, list):
            out = []
            for item in value:
                out.extend(self.expand(item))
            return self.drop_no_value(out)
        return self.drop_no_value([value])

    # ---- resource rules ----
    def check_resource(self, where, resource, actions, key_policy=False):
        if resource == "*" and key_policy:
            # In a KMS key policy "*" is the key the policy belongs to.
            return
        if resource == "*":
            broad = sorted(a for a in actions if a not in STAR_ONLY_ACTIONS)
            if broad:
                self.fail(where, f'Resource "*" for actions AWS lets you scope: {", ".join(broad)}')
            return
        if isinstance(resource, str):
            self.fail(where, f"hard-coded resource {resource!r} (build it from the stack's resources or parameters)")
            return
        if not isinstance(resource, dict) or len(resource) != 1:
            self.fail(where, f"unrecognised resource {resource!r}")
            return
        (fn, arg), = resource.items()
        if fn in ("Ref", "Fn::GetAtt"):
            if not self.references_stack(resource):
                self.fail(where, f"{fn} to something outside the stack: {arg!r}")
        elif fn == "Fn::Sub":
            self.check_sub(where, arg)
        elif fn == "Fn::Join":
            self.check_join(where, arg)
        else:
            self.fail(where, f"unrecognised resource intrinsic {fn}")

    def check_sub(self, where, arg):
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        for match in SUB_REF_RE.finditer(text):
            name = match.group(1)
            local = variables.get(name)
            if (local is not None and self.references_stack(local)) or (
                local is None and self.is_stack_name(name)
            ):
                if "*" in text[: match.start()]:
                    self.fail(where, f"wildcard before the stack reference in {text!r}")
                self.check_wildcards_end_segments(where, text)
                return
        # No stack reference: only an exact ARN of this account and region passes (the Glue
        # catalog is one per account and region: arn:...:glue:REGION:ACCOUNT:catalog).
        names = {m.group(1) for m in SUB_REF_RE.finditer(text)}
        if "*" in text or not {"AWS::AccountId", "AWS::Region"} <= names or names - PSEUDO:
            self.fail(where, f"Sub references none of the stack's resources or parameters: {text!r}")

    def check_wildcards_end_segments(self, where, text):
        """A wildcard may only stand for whole trailing segments (`.../folder/*`, `...:*`):
        `${Bucket}*` would also match other buckets whose names start the same."""
        for index, char in enumerate(text):
            if char == "*" and (index == 0 or text[index - 1] not in "/:"):
                self.fail(where, f"wildcard inside a name in {text!r}")
                return

    def check_join(self, where, arg):
        _, parts = arg
        for index, part in enumerate(parts):
            if self.references_stack(part):
                literal = "".join(p for p in parts[:index] if isinstance(p, str))
                if "*" in literal:
                    self.fail(where, f"wildcard before the stack reference in {parts!r}")
                rest = "".join(p if isinstance(p, str) else "x" for p in parts)
                self.check_wildcards_end_segments(where, rest)
                return
        self.fail(where, f"Join references none of the stack's resources or parameters: {parts!r}")

    # ---- statements ----
    def check_document(self, where, document, key_policy=False):
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        for index, statement in enumerate(self.expand(statements)):
            sid = statement.get("Sid", index)
            self.check_statement(f"{where}/Statement[{sid}]", statement, key_policy)

    def check_statement(self, where, statement, key_policy=False):
        self.statements += 1
        if statement.get("Effect") != "Allow":
            return
        if "NotAction" in statement:
            self.fail(where, "NotAction grants everything else")
        if "NotResource" in statement:
            self.fail(where, "NotResource grants everything else")
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not actions:
            self.fail(where, "no Action")
        for action in actions:
            if not isinstance(action, str) or not ACTION_RE.match(action):
                self.fail(where, f"action {action!r} is not one specific action")
        resources = statement.get("Resource")
        if resources is None:
            if "Principal" not in statement:
                self.fail(where, "no Resource")
            return
        for resource in self.expand(resources):
            self.check_resource(where, resource, actions, key_policy)

    def run(self):
        for logical_id, resource in self.resources.items():
            rtype = resource.get("Type")
            props = resource.get("Properties", {})
            if rtype == "AWS::IAM::Role":
                for policy in self.expand(props.get("Policies", [])):
                    name = policy.get("PolicyName", "?")
                    self.check_document(f"{logical_id}/{name}", policy.get("PolicyDocument", {}))
                for arn in self.expand(props.get("ManagedPolicyArns", [])):
                    if json.dumps(arn, sort_keys=True) not in ALLOWED_MANAGED_POLICIES:
                        self.fail(logical_id, f"managed policy {arn!r} is not scoped to this stack")
            elif rtype in POLICY_DOCUMENT_TYPES:
                self.check_document(logical_id, props.get("PolicyDocument", {}))
            elif rtype == "AWS::KMS::Key":
                self.check_document(logical_id, props.get("KeyPolicy", {}), key_policy=True)
            elif rtype == "AWS::Lambda::Function":
                role = props.get("Role")
                if not (isinstance(role, dict) and self.references_stack(role)):
                    self.fail(logical_id, f"runs under a role outside the stack: {role!r}")
        return self.violations


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        template = json.load(handle)
    checker = Checker(template)
    violations = checker.run()
    for violation in violations:
        print(f"check_iam: {violation}")
    if violations:
        print(f"check_iam: {len(violations)} violation(s) in {checker.statements} statements")
        return 1
    print(f"check_iam: ok ({checker.statements} statements)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

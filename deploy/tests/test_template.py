"""What must hold of deploy/template.yaml (and the image's build context), beyond what cfn-lint
checks: retention, least-privilege IAM, the wiring of every environment variable against the Rust
sources that read it, valid Fargate sizes, and that every failure reaches the error topic.

Run: python3 -m unittest discover -s deploy/tests (scripts/lint-deploy.sh does, after cfn-lint).
FOOTFALL_TEMPLATE=PATH checks another copy of the template (lint-deploy.sh's negative controls).
Needs only PyYAML.
"""

import json
import os
import re
import unittest
from itertools import product
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(os.environ.get("FOOTFALL_TEMPLATE", ROOT / "deploy" / "template.yaml"))


# ---------------------------------------------------------------- loading


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation's short tags into their long form."""


def _construct_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path=TEMPLATE):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


def show(value):
    """A readable, comparable form of a template value: "!Ref X", "!GetAtt X.Arn", "!Sub ..."."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return f"!Ref {arg}"
        if key == "Fn::GetAtt":
            return "!GetAtt " + ".".join(arg)
        if key == "Fn::Sub" and isinstance(arg, str):
            return f"!Sub {arg}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def as_list(value):
    return value if isinstance(value, list) else [value]


T = load_template()
RESOURCES = T["Resources"]


def of_type(kind):
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def rust_sources(*dirs):
    text = []
    for d in dirs:
        for path in sorted((ROOT / d).rglob("*.rs")):
            text.append(path.read_text(encoding="utf-8"))
    return "\n".join(text)


# ---------------------------------------------------------------- retention


class Retention(unittest.TestCase):
    def test_results_bucket_expires_objects_after_365_days(self):
        bucket = RESOURCES["ResultsBucket"]
        self.assertEqual(bucket["Type"], "AWS::S3::Bucket")
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        expiring = [
            r for r in rules
            if r.get("Status") == "Enabled" and r.get("ExpirationInDays") == 365
            # The rule must cover the whole bucket (alerts/ and the CSVs), not one prefix.
            and not r.get("Prefix") and not r.get("Filter")
        ]
        self.assertEqual(len(expiring), 1, rules)
        # No other rule may delete earlier than a year.
        for r in rules:
            if "ExpirationInDays" in r:
                self.assertGreaterEqual(r["ExpirationInDays"], 365, r)
        self.assertEqual(bucket.get("DeletionPolicy"), "Retain")

    def test_log_groups_have_a_retention(self):
        for name, group in of_type("AWS::Logs::LogGroup").items():
            self.assertEqual(show(group["Properties"]["RetentionInDays"]), "!Ref LogRetentionDays", name)


# ---------------------------------------------------------------- IAM

# Role (or SAM function) -> action -> the resources it may act on, exactly. Anything else in the
# template's policies fails the test, and so does a missing entry.
# SAM adds to each function's generated role only AWS managed policies: AWSLambdaBasicExecutionRole
# (its own log group), AWSXrayWriteOnlyAccess (Tracing: Active) and, for the controller in the VPC,
# AWSLambdaVPCAccessExecutionRole.
ERROR_TOPIC_PUBLISH = {
    "sns:Publish": {"!Ref ErrorTopic"},
    "kms:Decrypt": {"!GetAtt ErrorTopicKey.Arn"},
    "kms:GenerateDataKey*": {"!GetAtt ErrorTopicKey.Arn"},
}
# The notification Lambda's name and ARN as the tasks see them: built from the stack name, not
# !Ref/!GetAtt NotifyFunction, which would close a dependency cycle (see NoDependencyCycle).
NOTIFY_NAME = "!Sub ${AWS::StackName}-notify"
NOTIFY_ARN = "!Sub arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-notify"
# The run's annotated picture, stored by the task (payloads::PICTURE_PREFIX).
PICTURES = "!Sub ${ResultsBucket.Arn}/pictures/*"
EXPECTED_ACTIONS = {
    "TaskExecutionRole": {
        "secretsmanager:GetSecretValue": {"!Ref DatabaseSecretArn"},
    },
    "ScheduledTaskRole": {
        "s3:GetObject": {"!Sub ${ResultsBucket.Arn}/*.csv"},
        # The CSV append, and the picture the task stores (write only: it never reads one back).
        "s3:PutObject": {"!Sub ${ResultsBucket.Arn}/*.csv", PICTURES},
        "s3:ListBucket": {"!GetAtt ResultsBucket.Arn"},
        "lambda:InvokeFunction": {NOTIFY_ARN},
        **ERROR_TOPIC_PUBLISH,
    },
    "AdhocTaskRole": {
        # Ad-hoc results are stored too (an empty CallbackUrl means store only).
        "s3:GetObject": {"!Sub ${ResultsBucket.Arn}/*.csv"},
        "s3:PutObject": {"!Sub ${ResultsBucket.Arn}/*.csv", PICTURES},
        "s3:ListBucket": {"!GetAtt ResultsBucket.Arn"},
        "lambda:InvokeFunction": {NOTIFY_ARN},
        # The callback signing key, read at start; no other secret (the database URL comes
        # through the execution role, as an ECS secret).
        "secretsmanager:GetSecretValue": {"!Ref CallbackSecret"},
        **ERROR_TOPIC_PUBLISH,
    },
    "ControllerFunction": {
        "ecs:RunTask": {
            "!Sub arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${AWS::StackName}-scheduled:*",
            "!Sub arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${AWS::StackName}-adhoc:*",
        },
        # ecs:ListTasks cannot be scoped to a task or cluster ARN (IAM authorizes it on container
        # instances, which Fargate tasks have none of): "*", limited to this stack's cluster by
        # the ecs:cluster condition checked below.
        "ecs:ListTasks": {"*"},
        "iam:PassRole": {
            "!GetAtt ScheduledTaskRole.Arn",
            "!GetAtt AdhocTaskRole.Arn",
            "!GetAtt TaskExecutionRole.Arn",
        },
        # The database URL (the secret's "url", read at start) and the picture links' key.
        "secretsmanager:GetSecretValue": {"!Ref DatabaseSecretArn", "!Ref LinkSecret"},
        # GET /pictures/...: the redirect is presigned with this role, for pictures only.
        "s3:GetObject": {PICTURES},
        **ERROR_TOPIC_PUBLISH,
    },
    "NotifyFunction": {
        # Reads the picture the task stored; writes only under alerts/ (the cooldown state, and
        # the picture of payloads of the old inline contract).
        "s3:GetObject": {PICTURES, "!Sub ${ResultsBucket.Arn}/alerts/*"},
        "s3:PutObject": {"!Sub ${ResultsBucket.Arn}/alerts/*"},
        "secretsmanager:GetSecretValue": {"!Ref LinkSecret"},
        "s3:ListBucket": {"!GetAtt ResultsBucket.Arn"},
        "sns:Publish": {"!Ref AlertTopic", "!Ref ErrorTopic"},
        # Each user's address subscribed with a filter on its user_id (notify-lambda's
        # subscription module); subscription ARNs are the topic's ARN plus an id.
        "sns:ListSubscriptionsByTopic": {"!Ref AlertTopic"},
        "sns:Subscribe": {"!Ref AlertTopic"},
        "sns:GetSubscriptionAttributes": {"!Sub ${AlertTopic}:*"},
        "sns:SetSubscriptionAttributes": {"!Sub ${AlertTopic}:*"},
        "kms:Decrypt": {"!GetAtt ErrorTopicKey.Arn"},
        "kms:GenerateDataKey*": {"!GetAtt ErrorTopicKey.Arn"},
    },
}
# (role, action) pairs allowed a "*" resource, with the reason, and the condition they must carry.
STAR_RESOURCE_ALLOWED = {
    ("ControllerFunction", "ecs:ListTasks"): "ecs:cluster",
}
# Conditions that must stay on a statement granting (role, action).
REQUIRED_CONDITIONS = {
    ("ControllerFunction", "ecs:RunTask"): ("ArnEquals", "ecs:cluster", "!GetAtt Cluster.Arn"),
    ("ControllerFunction", "ecs:ListTasks"): ("ArnEquals", "ecs:cluster", "!GetAtt Cluster.Arn"),
    ("ControllerFunction", "iam:PassRole"): ("StringEquals", "iam:PassedToService", "ecs-tasks.amazonaws.com"),
}
EXPECTED_MANAGED_POLICIES = {
    "TaskExecutionRole": {
        # ECR image pull and the awslogs driver: AWS's own policy for exactly that.
        "!Sub arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    },
}


def policy_statements(name, resource):
    """(statements, managed policy ARNs) of a role or a SAM function."""
    props = resource.get("Properties", {})
    statements, managed = [], set()
    if resource["Type"] == "AWS::IAM::Role":
        for policy in props.get("Policies", []):
            statements += as_list(policy["PolicyDocument"]["Statement"])
        managed = {show(arn) for arn in props.get("ManagedPolicyArns", [])}
    elif resource["Type"] == "AWS::Serverless::Function":
        for policy in as_list(props.get("Policies", [])):
            if not (isinstance(policy, dict) and "Statement" in policy):
                raise AssertionError(f"{name}: SAM policy templates and managed policies are not allowed here: {policy!r}")
            statements += as_list(policy["Statement"])
    else:
        raise AssertionError(f"{name}: {resource['Type']} carries IAM policies this test does not know")
    return statements, managed


class LeastPrivilege(unittest.TestCase):
    def principals(self):
        found = {}
        for name, r in RESOURCES.items():
            if r["Type"] in ("AWS::IAM::Role", "AWS::Serverless::Function"):
                found[name] = r
            elif r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group"):
                self.fail(f"{name}: standalone {r['Type']}: add it to EXPECTED_ACTIONS's roles instead")
        return found

    def test_every_role_is_listed(self):
        self.assertEqual(set(self.principals()), set(EXPECTED_ACTIONS))

    def test_functions_use_their_generated_roles(self):
        for name, r in of_type("AWS::Serverless::Function").items():
            self.assertNotIn("Role", r["Properties"], f"{name}: a Role of its own escapes this test")

    def test_actions_and_resources_are_exactly_the_expected_ones(self):
        for name, resource in self.principals().items():
            statements, managed = policy_statements(name, resource)
            granted = {}
            for s in statements:
                self.assertEqual(s.get("Effect"), "Allow", f"{name}: {s}")
                for forbidden in ("NotAction", "NotResource", "Principal"):
                    self.assertNotIn(forbidden, s, f"{name}: {s}")
                for action in as_list(s["Action"]):
                    self.assertFalse(
                        action == "*" or action.endswith(":*"),
                        f"{name}: wildcard action {action}",
                    )
                    for res in as_list(s["Resource"]):
                        shown = show(res)
                        granted.setdefault(action, set()).add(shown)
                        if shown == "*":
                            key = STAR_RESOURCE_ALLOWED.get((name, action))
                            self.assertIsNotNone(key, f"{name}: {action} on '*'")
                            conditions = {k for c in s.get("Condition", {}).values() for k in c}
                            self.assertIn(key, conditions, f"{name}: {action} on '*' without {key}")
                    need = REQUIRED_CONDITIONS.get((name, action))
                    if need:
                        op, key, value = need
                        self.assertEqual(show(s.get("Condition", {}).get(op, {}).get(key)), value, f"{name}: {action}: {s}")
            self.assertEqual(granted, EXPECTED_ACTIONS[name], name)
            self.assertEqual(managed, EXPECTED_MANAGED_POLICIES.get(name, set()), name)

    def test_task_roles_are_for_ecs_tasks_only(self):
        for name, r in of_type("AWS::IAM::Role").items():
            for s in as_list(r["Properties"]["AssumeRolePolicyDocument"]["Statement"]):
                self.assertEqual(s["Principal"], {"Service": "ecs-tasks.amazonaws.com"}, name)
                self.assertEqual(s["Action"], "sts:AssumeRole", name)

    def test_task_definitions_use_their_own_roles(self):
        self.assertEqual(show(RESOURCES["ScheduledTaskDefinition"]["Properties"]["TaskRoleArn"]), "!GetAtt ScheduledTaskRole.Arn")
        self.assertEqual(show(RESOURCES["AdhocTaskDefinition"]["Properties"]["TaskRoleArn"]), "!GetAtt AdhocTaskRole.Arn")

    def test_resource_policies(self):
        # The bucket policy only denies.
        for s in RESOURCES["ResultsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
            self.assertEqual(s["Effect"], "Deny", s)
        # The error topic admits exactly the stopped-task rule and this stack's alarms.
        statements = RESOURCES["ErrorTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        admitted = {}
        for s in statements:
            self.assertEqual(s["Effect"], "Allow")
            self.assertEqual(s["Action"], "sns:Publish")
            self.assertEqual(show(s["Resource"]), "!Ref ErrorTopic")
            self.assertIn("aws:SourceArn", {k for c in s["Condition"].values() for k in c}, s)
            admitted[s["Principal"]["Service"]] = s["Condition"]
        self.assertEqual(set(admitted), {"events.amazonaws.com", "cloudwatch.amazonaws.com"})
        self.assertEqual(show(admitted["events.amazonaws.com"]["ArnEquals"]["aws:SourceArn"]), "!GetAtt TaskStoppedRule.Arn")
        # The key: the account (through IAM) and the two publishing services, nothing else. A key
        # policy's Resource is always "*" (it means this key).
        key_statements = RESOURCES["ErrorTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
        services = set()
        for s in key_statements:
            principal = s["Principal"]
            if "AWS" in principal:
                self.assertEqual(show(principal["AWS"]), "!Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
            else:
                services |= set(as_list(principal["Service"]))
                self.assertEqual(set(as_list(s["Action"])), {"kms:Decrypt", "kms:GenerateDataKey*"})
        self.assertEqual(services, {"events.amazonaws.com", "cloudwatch.amazonaws.com"})


# ---------------------------------------------------------------- environment variables

# Where each binary's sources live (its own crate: what it reads through constants of other crates
# is found through those constants' names).
BINARY_SOURCES = {
    "ControllerFunction": ["adapters/controller-lambda/src"],
    "NotifyFunction": ["adapters/notify-lambda/src"],
    "ScheduledTaskDefinition": ["adapters/fargate-task/src"],
    "AdhocTaskDefinition": ["adapters/fargate-task/src"],
}
# The value each variable must be wired to.
WIRING = {
    "ControllerFunction": {
        "ECS_CLUSTER": "!Ref Cluster",
        "TASK_DEFINITION_SCHEDULED": "!Ref ScheduledTaskDefinition",
        "TASK_DEFINITION_ADHOC": "!Ref AdhocTaskDefinition",
        "TASK_CONTAINER_NAME": "task",
        "TASK_SUBNETS": '{"Fn::Join": [",", {"Ref": "SubnetIds"}]}',
        "TASK_SECURITY_GROUPS": "!Ref TaskSecurityGroup",
        "TASK_LAUNCH_TYPE": "FARGATE",
        # The secret's ARN, never the URL (see test_no_secret_values_in_plaintext_environments).
        "DATABASE_SECRET_ARN": "!Ref DatabaseSecretArn",
        "PICTURES_BUCKET": "!Ref ResultsBucket",
        "LINK_SECRET_ARN": "!Ref LinkSecret",
    },
    "NotifyFunction": {
        "ALERT_BUCKET": "!Ref ResultsBucket",
        "ALERT_TOPIC_ARN": "!Ref AlertTopic",
        "ALERT_THRESHOLD": "!Ref AlertThreshold",
        "ALERT_COOLDOWN_SECONDS": "!Ref AlertCooldownSeconds",
        "PICTURE_LINK_BASE": "!Sub https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1",
        "LINK_SECRET_ARN": "!Ref LinkSecret",
        "PICTURE_LINK_DAYS": "!Ref PictureLinkDays",
        "PRESIGN_EXPIRY_SECONDS": "86400",
    },
    "ScheduledTaskDefinition": {
        "RESULTS_BUCKET": "!Ref ResultsBucket",
        "NOTIFY_FUNCTION_NAME": NOTIFY_NAME,
        "ERROR_TOPIC_ARN": "!Ref ErrorTopic",
        "ALERT_THRESHOLD": "!Ref AlertThreshold",
        "WATCH_SECONDS": "!Ref ScheduledWatchSeconds",
        "DATABASE_URL": "secret !Sub ${DatabaseSecretArn}:url::",
    },
    "AdhocTaskDefinition": {
        "CALLBACK_URL": "!Ref CallbackUrl",
        "CALLBACK_SECRET_ARN": "!Ref CallbackSecret",
        "RESULTS_BUCKET": "!Ref ResultsBucket",
        "DATABASE_URL": "secret !Sub ${DatabaseSecretArn}:url::",
        "NOTIFY_FUNCTION_NAME": NOTIFY_NAME,
        "ERROR_TOPIC_ARN": "!Ref ErrorTopic",
        "ALERT_THRESHOLD": "!Ref AlertThreshold",
        "WATCH_SECONDS": "!Ref AdhocWatchSeconds",
    },
}
# Required variables the template does not set, and who sets them.
SET_ELSEWHERE = {
    "FOOTFALL_PAYLOAD": "the controller, per run, as a container override (payloads::TASK_PAYLOAD_ENV)",
}
# The task requires some variables only for one source (TaskConfig::check): the task definition
# of that source must set them.
REQUIRED_PER_SOURCE = {
    "EVENTBRIDGE": ("ScheduledTaskDefinition", {"RESULTS_BUCKET", "DATABASE_URL"}),
}
# An ad-hoc run needs CALLBACK_URL or the store; the template gives it the store, so an empty
# CallbackUrl means "store only" (TaskConfig::check).
ADHOC_STORE = {"RESULTS_BUCKET", "DATABASE_URL"}

READ_CALL = r"(?:\bstd::env::var(?:_os)?|\b(?:opt|req|num|flag|list|parse_or(?:::<[^>]+>)?))\(\s*(?:\w+::)*"


def string_constants():
    """NAME -> identifiers of `const IDENT: &str = "NAME"` anywhere in the workspace."""
    consts = {}
    for path in ROOT.rglob("*.rs"):
        if "target" in path.parts or "fuzz" in path.parts:
            continue
        for ident, value in re.findall(r'const\s+(\w+)\s*:\s*&str\s*=\s*"([A-Z][A-Z0-9_]*)"', path.read_text(encoding="utf-8")):
            consts.setdefault(value, set()).add(ident)
    return consts


CONSTANTS = string_constants()


def reads(source, name):
    """Whether `source` reads variable `name` (a literal or a constant naming it) in a read call."""
    spellings = [re.escape(f'"{name}"')] + [re.escape(c) + r"\b" for c in CONSTANTS.get(name, ())]
    return any(re.search(READ_CALL + s, source) for s in spellings)


def required_names(source):
    """Names the source reads with req( (directly, or through a closure that calls req on its key)."""
    callers = {"req"}
    for closure, arg in re.findall(r"let\s+(\w+)\s*=\s*\|(\w+)\s*:\s*&str\|[^{;]*\{\s*req\(\2\)", source):
        callers.add(closure)
    names = set()
    for caller in callers:
        for arg in re.findall(r"(?<![\w.])" + caller + r"\(\s*([\w:]+|\"[A-Z0-9_]+\")", source):
            arg = arg.strip('"')
            ident = arg.split("::")[-1]
            by_const = [n for n, ids in CONSTANTS.items() if ident in ids]
            if by_const:
                names.update(by_const)
            elif re.fullmatch(r"[A-Z][A-Z0-9_]*", arg):
                names.add(arg)
        # env.req("X") as a method call too.
        names.update(re.findall(r"\.req\(\s*\"([A-Z0-9_]+)\"", source))
        for ident in re.findall(r"\.req\(\s*(?:\w+::)*(\w+)\s*\)", source):
            names.update(n for n, ids in CONSTANTS.items() if ident in ids)
    return names


def environment(name):
    """Variables a function or task definition sets: name -> shown value."""
    r = RESOURCES[name]
    if r["Type"] == "AWS::Serverless::Function":
        env = r["Properties"].get("Environment", {}).get("Variables", {})
        return {k: show(v) for k, v in env.items()}
    (container,) = r["Properties"]["ContainerDefinitions"]
    env = {e["Name"]: show(e["Value"]) for e in container.get("Environment", [])}
    for s in container.get("Secrets", []):
        env[s["Name"]] = "secret " + show(s["ValueFrom"])
    return env


class EnvironmentWiring(unittest.TestCase):
    def test_every_binary_is_known(self):
        runnable = set(of_type("AWS::Serverless::Function")) | set(of_type("AWS::ECS::TaskDefinition"))
        self.assertEqual(runnable, set(BINARY_SOURCES))

    def test_each_variable_is_wired_as_expected(self):
        for name in BINARY_SOURCES:
            self.assertEqual(environment(name), WIRING[name], name)

    def test_every_variable_set_is_read_by_the_binary(self):
        for name, dirs in BINARY_SOURCES.items():
            source = rust_sources(*dirs)
            for var in environment(name):
                self.assertTrue(reads(source, var), f"{name} sets {var}, which {dirs} never reads")

    def test_every_required_variable_is_set(self):
        for name, dirs in BINARY_SOURCES.items():
            required = required_names(rust_sources(*dirs))
            missing = required - set(environment(name)) - set(SET_ELSEWHERE)
            self.assertEqual(missing, set(), f"{name}: required by the code, not set")

    def test_required_parser_finds_the_known_requirements(self):
        # Guards the regexes above: they must see what the code requires today.
        self.assertTrue({"ECS_CLUSTER", "TASK_SUBNETS", "TASK_SECURITY_GROUPS", "TASK_CONTAINER_NAME"}
                        <= required_names(rust_sources("adapters/controller-lambda/src")))
        self.assertTrue({"ALERT_BUCKET", "ALERT_TOPIC_ARN"} <= required_names(rust_sources("adapters/notify-lambda/src")))
        self.assertIn("FOOTFALL_PAYLOAD", required_names(rust_sources("adapters/fargate-task/src")))

    def test_the_payload_is_set_by_the_controller(self):
        controller = rust_sources("adapters/controller-lambda/src")
        self.assertRegex(controller, r"\.name\(\s*payloads::TASK_PAYLOAD_ENV\s*\)")

    def test_variables_required_per_source(self):
        source = rust_sources("adapters/fargate-task/src")
        in_code = {}
        for var, src in re.findall(r'"([A-Z_]+) is required for (EVENTBRIDGE|API_GATEWAY) runs"', source):
            in_code.setdefault(src, set()).add(var)
        self.assertEqual(in_code, {k: v for k, (_, v) in REQUIRED_PER_SOURCE.items()})
        for _, (definition, names) in REQUIRED_PER_SOURCE.items():
            self.assertTrue(names <= set(environment(definition)), definition)

    def test_adhoc_runs_can_store_only(self):
        self.assertTrue(ADHOC_STORE <= set(environment("AdhocTaskDefinition")))
        self.assertEqual(T["Parameters"]["CallbackUrl"].get("Default"), "")
        source = rust_sources("adapters/fargate-task/src")
        self.assertIn("API_GATEWAY runs need CALLBACK_URL, or RESULTS_BUCKET and DATABASE_URL", source)

    def test_controller_and_task_definitions_agree(self):
        env = RESOURCES["ControllerFunction"]["Properties"]["Environment"]["Variables"]
        for definition in ("ScheduledTaskDefinition", "AdhocTaskDefinition"):
            (container,) = RESOURCES[definition]["Properties"]["ContainerDefinitions"]
            self.assertEqual(container["Name"], env["TASK_CONTAINER_NAME"], definition)


# ---------------------------------------------------------------- secrets and signing keys


def source_constant(path, name):
    """The value of `const NAME: TYPE = VALUE;` in a Rust source of the workspace."""
    m = re.search(r"const\s+" + name + r"\s*:\s*[^=]+=\s*([^;]+);", (ROOT / path).read_text(encoding="utf-8"))
    assert m, f"{name} not found in {path}"
    return m.group(1).strip()


# The signing keys: who reads each one (its ARN in their environment, GetSecretValue on it).
SIGNING_SECRETS = {
    # The ad-hoc task signs its callbacks; the receiver (outside this stack) verifies them.
    "CallbackSecret": {"AdhocTaskDefinition": "CALLBACK_SECRET_ARN"},
    # The notification Lambda signs the picture links; the controller checks them.
    "LinkSecret": {"NotifyFunction": "LINK_SECRET_ARN", "ControllerFunction": "LINK_SECRET_ARN"},
}
# Variables the code accepts only together ("both or neither"), with the code's own message.
SET_TOGETHER = {
    "ControllerFunction": ("PICTURES_BUCKET", "LINK_SECRET_ARN"),
    "NotifyFunction": ("PICTURE_LINK_BASE", "LINK_SECRET_ARN"),
}


def plain_environment_values(name):
    """Values of a function's or container's plaintext environment (not ECS `Secrets`)."""
    r = RESOURCES[name]
    if r["Type"] == "AWS::Serverless::Function":
        return r["Properties"].get("Environment", {}).get("Variables", {})
    (container,) = r["Properties"]["ContainerDefinitions"]
    return {e["Name"]: e["Value"] for e in container.get("Environment", [])}


class SecretsStaySecret(unittest.TestCase):
    def test_no_secret_values_in_plaintext_environments(self):
        # A dynamic reference resolved into an environment is readable by whoever may read the
        # function's configuration or the task definition; the code reads secrets at start.
        for name in BINARY_SOURCES:
            for var, value in plain_environment_values(name).items():
                text = json.dumps(value)
                self.assertNotRegex(text, r"\{\{resolve:(secretsmanager|ssm-secure)", f"{name}: {var}")
        for name, f in of_type("AWS::Serverless::Function").items():
            self.assertNotIn("resolve:secretsmanager", json.dumps(f["Properties"].get("Environment", {})), name)
        self.assertNotIn("resolve:secretsmanager", json.dumps(T.get("Globals", {})))

    def test_controller_reads_the_database_url_from_the_secret(self):
        env = environment("ControllerFunction")
        self.assertNotIn("DATABASE_URL", env)
        self.assertEqual(env["DATABASE_SECRET_ARN"], "!Ref DatabaseSecretArn")
        source = rust_sources("adapters/controller-lambda/src")
        # The "url" key of the secret's JSON, the same key the task's ECS secret takes.
        self.assertRegex(source, r'secrets::read\(\s*secrets,\s*arn,\s*Some\("url"\)\s*\)')
        for definition in ("ScheduledTaskDefinition", "AdhocTaskDefinition"):
            self.assertEqual(environment(definition)["DATABASE_URL"], "secret !Sub ${DatabaseSecretArn}:url::")

    def test_signing_secrets_are_generated_long_enough(self):
        min_bytes = int(source_constant("adapters/aws-sinks/src/signing.rs", "MIN_KEY_BYTES"))
        self.assertEqual(set(of_type("AWS::SecretsManager::Secret")), set(SIGNING_SECRETS))
        for name in SIGNING_SECRETS:
            props = RESOURCES[name]["Properties"]
            # Generated by Secrets Manager: no value in the template.
            self.assertNotIn("SecretString", props, name)
            generate = props["GenerateSecretString"]
            self.assertEqual(generate["PasswordLength"], 64, name)
            self.assertGreaterEqual(generate["PasswordLength"], min_bytes, name)
            # Letters and digits only: the text is the key, used as it is (trimmed) by Rust and by
            # the receiver, with no quoting or escaping issues.
            self.assertIs(generate["ExcludePunctuation"], True, name)
            self.assertNotIn("SecretStringTemplate", generate, name)

    def test_each_signing_secret_reaches_exactly_its_readers(self):
        for secret, readers in SIGNING_SECRETS.items():
            referring = {
                name for name, r in RESOURCES.items()
                if name != secret and f'"Ref": "{secret}"' in json.dumps(r)
            }
            roles = {"AdhocTaskDefinition": "AdhocTaskRole"}
            expected = {roles.get(r, r) for r in readers} | set(readers)
            self.assertEqual(referring, expected, secret)
            for reader, var in readers.items():
                self.assertEqual(environment(reader).get(var), f"!Ref {secret}", reader)
                role = roles.get(reader, reader)
                self.assertIn(f"!Ref {secret}", EXPECTED_ACTIONS[role]["secretsmanager:GetSecretValue"], role)

    def test_variables_set_together(self):
        for name, (a, b) in SET_TOGETHER.items():
            source = rust_sources(*BINARY_SOURCES[name])
            self.assertIn(f"{a} and {b} are set together", source, name)
            env = environment(name)
            self.assertEqual(a in env, b in env, f"{name}: {a} and {b} must be set together")
            self.assertIn(a, env, name)

    def test_callbacks_are_signed(self):
        source = rust_sources("adapters/fargate-task/src")
        self.assertIn("CALLBACK_URL needs CALLBACK_SECRET_ARN", source)
        env = environment("AdhocTaskDefinition")
        self.assertIn("CALLBACK_URL", env)
        self.assertEqual(env.get("CALLBACK_SECRET_ARN"), "!Ref CallbackSecret")
        # A task definition that may call back must carry the key; the scheduled one never posts.
        self.assertNotIn("CALLBACK_URL", environment("ScheduledTaskDefinition"))
        self.assertNotIn("CALLBACK_SECRET_ARN", environment("ScheduledTaskDefinition"))

    def test_the_receiver_can_find_the_callback_secret(self):
        self.assertEqual(show(T["Outputs"]["CallbackSecretArn"]["Value"]), "!Ref CallbackSecret")


# ---------------------------------------------------------------- the picture route

STAGE_URL = "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"


def api_routes():
    """(path, method) -> (function, ApiKeyRequired, RestApiId) of every Api event."""
    routes = {}
    for name, f in of_type("AWS::Serverless::Function").items():
        for event in f["Properties"].get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            p = event["Properties"]
            key = (p["Path"], p["Method"].lower())
            assert key not in routes, key
            routes[key] = (name, p.get("Auth", {}).get("ApiKeyRequired"), show(p.get("RestApiId")))
    return routes


class PictureRoute(unittest.TestCase):
    def picture_prefix(self):
        prefix = source_constant("adapters/payloads/src/lib.rs", "PICTURE_PREFIX").strip('"')
        self.assertEqual(prefix, "pictures/")
        return prefix

    def test_routes_and_their_api_keys(self):
        prefix = self.picture_prefix()
        self.assertEqual(api_routes(), {
            # Starts tasks: callers need the API key.
            ("/run", "post"): ("ControllerFunction", True, "!Ref Api"),
            # The email's link: its signature and expiry authenticate it; recipients have no key.
            (f"/{prefix}{{proxy+}}", "get"): ("ControllerFunction", False, "!Ref Api"),
        })
        api = RESOURCES["Api"]["Properties"]
        # Any route added later needs the key unless it says otherwise.
        self.assertIs(api["Auth"]["ApiKeyRequired"], True)
        self.assertEqual(api["StageName"], "v1")

    def test_the_controller_serves_the_proxy_path(self):
        source = rust_sources("adapters/controller-lambda/src")
        self.assertIn('"/pathParameters/proxy"', source)
        self.assertRegex(source, r'query\(event,\s*"expires"\)')
        self.assertRegex(source, r'query\(event,\s*"signature"\)')
        self.assertEqual(source_constant("adapters/controller-lambda/src/pictures.rs", "REDIRECT_LIFETIME"),
                         "Duration::from_secs(300)")

    def test_links_point_at_the_route(self):
        prefix = self.picture_prefix()
        stage = RESOURCES["Api"]["Properties"]["StageName"]
        base = f"!Sub {STAGE_URL}{stage}"
        self.assertEqual(environment("NotifyFunction")["PICTURE_LINK_BASE"], base)
        # The link is {base}/{key} with key = pictures/{user}/{run}.jpg: the route's path.
        signing = (ROOT / "adapters/aws-sinks/src/signing.rs").read_text(encoding="utf-8")
        self.assertIn('"{}/{}?expires={expires}&signature={}"', signing)
        self.assertEqual(show(T["Outputs"]["PictureRouteUrl"]["Value"]), f"{base}/{prefix}")
        self.assertEqual(show(T["Outputs"]["ApiUrl"]["Value"]), f"{base}/run")

    def test_pictures_are_keyed_where_the_grants_are(self):
        prefix = self.picture_prefix()
        self.assertEqual(PICTURES, f"!Sub ${{ResultsBucket.Arn}}/{prefix}*")
        payloads = (ROOT / "adapters/payloads/src/lib.rs").read_text(encoding="utf-8")
        self.assertIn('format!("{PICTURE_PREFIX}{user_id}/{run_id}.jpg")', payloads)
        # Who touches pictures/, and how: the tasks write, the Lambdas read, nobody else.
        touching = {
            (role, action)
            for role, actions in EXPECTED_ACTIONS.items()
            for action, resources in actions.items() if PICTURES in resources
        }
        self.assertEqual(touching, {
            ("ScheduledTaskRole", "s3:PutObject"), ("AdhocTaskRole", "s3:PutObject"),
            ("NotifyFunction", "s3:GetObject"), ("ControllerFunction", "s3:GetObject"),
        })

    def test_picture_link_days_parameter(self):
        param = T["Parameters"]["PictureLinkDays"]
        self.assertEqual(param["Type"], "Number")
        self.assertEqual((param["Default"], param["MinValue"], param["MaxValue"]), (30, 1, 365))
        # The code's own default and bounds.
        source = rust_sources("adapters/notify-lambda/src")
        m = re.search(r'num\("PICTURE_LINK_DAYS",\s*(\d+)\)\?\s*\.clamp\((\d+),\s*(\d+)\)', source)
        self.assertIsNotNone(m, "PICTURE_LINK_DAYS parsing not found in notify-lambda")
        self.assertEqual(tuple(int(x) for x in m.groups()), (param["Default"], param["MinValue"], param["MaxValue"]))
        # A link must not outlive its picture (the bucket's expiration).
        (rule,) = RESOURCES["ResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
        self.assertLessEqual(param["MaxValue"], rule["ExpirationInDays"])


# ---------------------------------------------------------------- no dependency cycle

PSEUDO = re.compile(r"AWS::\w+")


def references(value, local=()):
    """Logical ids a template value refers to (Ref, GetAtt, Sub)."""
    found = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else arg.split(".")[0])
            elif key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                for var in re.findall(r"\$\{([^}!][^}]*)\}", text):
                    found.add(var.split(".")[0])
                found -= set(variables)
                found |= references(variables)
            else:
                found |= references(arg)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return {f for f in found if f in RESOURCES}


def dependency_graph():
    """Resource -> resources it depends on, as CloudFormation sees them after the SAM transform.
    cfn-lint (1.x) checks cycles (E3004) on the untransformed template only, and skips SAM
    resources: it cannot see that SAM's RestApi body integrates each function with an Api event
    (Api -> function), the edge that closes NotifyFunction -> Api -> ControllerFunction -> task
    definition -> NotifyFunction. So this test models it."""
    graph = {name: set() for name in RESOURCES}
    for name, r in RESOURCES.items():
        props = dict(r.get("Properties", {}))
        events = props.pop("Events", {}) if r["Type"] == "AWS::Serverless::Function" else {}
        graph[name] |= references(props) | set(as_list(r.get("DependsOn", [])))
        for event in events.values():
            if event["Type"] == "Api":
                # The function's event becomes a method of the RestApi's body (its integration
                # URI names the function's ARN) and a permission naming both.
                (api,) = references(event["Properties"]["RestApiId"])
                graph[api].add(name)
            # Other events (schedules) become resources that depend on the function.
    return graph


def find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


class NoDependencyCycle(unittest.TestCase):
    def test_no_cycle(self):
        cycle = find_cycle(dependency_graph())
        self.assertIsNone(cycle, " -> ".join(cycle or []))

    def test_the_graph_sees_the_edges_that_matter(self):
        # Guards the model above: without these edges the test would pass vacuously.
        graph = dependency_graph()
        self.assertIn("ControllerFunction", graph["Api"])
        self.assertIn("Api", graph["NotifyFunction"])
        self.assertIn("ScheduledTaskDefinition", graph["ControllerFunction"])
        self.assertIn("ScheduledTaskRole", graph["ControllerFunction"])
        self.assertEqual(find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}), ["a", "b", "c", "a"])

    def test_the_tasks_name_the_notification_lambda_by_its_fixed_name(self):
        # Nothing the controller depends on may refer to NotifyFunction: the tasks use its name.
        self.assertEqual(show(RESOURCES["NotifyFunction"]["Properties"]["FunctionName"]), NOTIFY_NAME)
        self.assertTrue(NOTIFY_ARN.endswith(":function:" + NOTIFY_NAME.removeprefix("!Sub ")))
        for definition in ("ScheduledTaskDefinition", "AdhocTaskDefinition"):
            self.assertEqual(environment(definition)["NOTIFY_FUNCTION_NAME"], NOTIFY_NAME, definition)


# ---------------------------------------------------------------- task size, Fargate only


def fargate_memory(cpu):
    """Valid Fargate (Linux) memory sizes in MiB for a CPU value."""
    steps = {
        256: [512, 1024, 2048],
        512: list(range(1024, 4097, 1024)),
        1024: list(range(2048, 8193, 1024)),
        2048: list(range(4096, 16385, 1024)),
        4096: list(range(8192, 30721, 1024)),
        8192: list(range(16384, 61441, 4096)),
        16384: list(range(32768, 122881, 8192)),
    }
    return set(steps.get(cpu, []))


def evaluate(expr, params):
    """Evaluates the rule functions this template uses."""
    if isinstance(expr, dict):
        (fn, arg), = expr.items()
        if fn == "Ref":
            return params[arg]
        if fn == "Fn::Equals":
            a, b = (evaluate(x, params) for x in arg)
            return a == b
        if fn == "Fn::Contains":
            values, needle = arg
            return evaluate(needle, params) in [evaluate(v, params) for v in values]
        if fn == "Fn::And":
            return all(evaluate(x, params) for x in arg)
        if fn == "Fn::Or":
            return any(evaluate(x, params) for x in arg)
        if fn == "Fn::Not":
            return not evaluate(arg[0], params)
        raise AssertionError(f"rule function {fn} not understood by this test")
    return expr


def rules_accept(params):
    for rule in T.get("Rules", {}).values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], params):
            continue
        if not all(evaluate(a["Assert"], params) for a in rule["Assertions"]):
            return False
    return True


class TaskSize(unittest.TestCase):
    GROUPS = {
        "ScheduledTaskDefinition": ("ScheduledTaskCpu", "ScheduledTaskMemory"),
        "AdhocTaskDefinition": ("AdhocTaskCpu", "AdhocTaskMemory"),
    }

    def test_task_definitions_take_their_group_size(self):
        for definition, (cpu, memory) in self.GROUPS.items():
            props = RESOURCES[definition]["Properties"]
            self.assertEqual(show(props["Cpu"]), f"!Ref {cpu}", definition)
            self.assertEqual(show(props["Memory"]), f"!Ref {memory}", definition)
            for container in props["ContainerDefinitions"]:
                # A container-level size may only repeat the task's.
                for key, param in (("Cpu", cpu), ("Memory", memory)):
                    if key in container:
                        self.assertEqual(show(container[key]), f"!Ref {param}", definition)

    def test_rules_accept_exactly_the_valid_fargate_pairs(self):
        params = T["Parameters"]
        defaults = {k: str(v.get("Default")) for k, v in params.items()}
        for definition, (cpu, memory) in self.GROUPS.items():
            cpus, memories = params[cpu]["AllowedValues"], params[memory]["AllowedValues"]
            for c in cpus:
                self.assertTrue(fargate_memory(int(c)), f"{cpu}={c} is no Fargate CPU size")
            for c, m in product(cpus, memories):
                valid = int(m) in fargate_memory(int(c))
                chosen = dict(defaults, **{cpu: c, memory: m})
                self.assertEqual(rules_accept(chosen), valid, f"{definition}: cpu {c} memory {m}")
            self.assertIn(int(defaults[memory]), fargate_memory(int(defaults[cpu])), f"{definition}: defaults")

    def test_fargate_only_no_half_wired_gpu(self):
        # Fargate has no GPUs and this stack has no GPU capacity provider: no GPU task definition.
        for name, r in of_type("AWS::ECS::TaskDefinition").items():
            props = r["Properties"]
            self.assertEqual(props["RequiresCompatibilities"], ["FARGATE"], name)
            for container in props["ContainerDefinitions"]:
                self.assertNotIn("ResourceRequirements", container, name)
                self.assertNotIn("FOOTFALL_DEVICE", {e["Name"] for e in container.get("Environment", [])}, name)
        self.assertFalse(of_type("AWS::ECS::CapacityProvider"))
        self.assertNotIn("EnableGpuTaskDefinition", T["Parameters"])
        self.assertEqual(RESOURCES["ControllerFunction"]["Properties"]["Environment"]["Variables"]["TASK_LAUNCH_TYPE"], "FARGATE")


# ---------------------------------------------------------------- nothing fails silently


def pattern_matches(pattern, event):
    """EventBridge matching for what this template uses: value lists, anything-but, $or, arrays."""
    for key, want in pattern.items():
        if key == "$or":
            if not any(pattern_matches(p, event) for p in want):
                return False
            continue
        if key not in event:
            return False
        got = event[key]
        if isinstance(want, dict):
            items = got if isinstance(got, list) else [got]
            if not any(isinstance(i, dict) and pattern_matches(want, i) for i in items):
                return False
            continue
        values = got if isinstance(got, list) else [got]
        if not any(value_matches(w, v) for w in want for v in values):
            return False
    return True


def value_matches(want, value):
    if isinstance(want, dict):
        (op, arg), = want.items()
        if op == "anything-but":
            return value not in as_list(arg)
        raise AssertionError(f"pattern operator {op} not understood by this test")
    return want == value


CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/footfall-Cluster-X"


def stopped_event(stop_code, exit_code=None, reason="", cluster=CLUSTER, status="STOPPED"):
    container = {"name": "task", "lastStatus": "STOPPED"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    if reason:
        container["reason"] = reason
    return {
        "source": "aws.ecs",
        "detail-type": "ECS Task State Change",
        "detail": {"clusterArn": cluster, "lastStatus": status, "stopCode": stop_code,
                   "stoppedReason": "Essential container in task exited", "containers": [container]},
    }


class ErrorsReachTheErrorTopic(unittest.TestCase):
    def stopped_rules(self):
        return {
            name: r for name, r in of_type("AWS::Events::Rule").items()
            if r["Properties"].get("EventPattern", {}).get("detail-type") == ["ECS Task State Change"]
        }

    def test_stopped_task_rule_targets_the_error_topic(self):
        rules = self.stopped_rules()
        self.assertEqual(list(rules), ["TaskStoppedRule"])
        props = rules["TaskStoppedRule"]["Properties"]
        self.assertEqual(props.get("State", "ENABLED"), "ENABLED")
        pattern = props["EventPattern"]
        self.assertEqual(pattern["source"], ["aws.ecs"])
        self.assertEqual([show(c) for c in pattern["detail"]["clusterArn"]], ["!GetAtt Cluster.Arn"])
        (target,) = props["Targets"]
        self.assertEqual(show(target["Arn"]), "!Ref ErrorTopic")
        template = show(target["InputTransformer"]["InputTemplate"])
        for placeholder in ("<task>", "<stopCode>", "<stoppedReason>", "<exitCode>"):
            self.assertIn(placeholder, template)
        for placeholder in re.findall(r"<(\w+)>", template):
            self.assertIn(placeholder, target["InputTransformer"]["InputPathsMap"])

    def test_stopped_task_rule_matches_failures_only(self):
        pattern = json.loads(json.dumps(self.stopped_rules()["TaskStoppedRule"]["Properties"]["EventPattern"]))
        pattern["detail"]["clusterArn"] = [CLUSTER]
        cases = {
            "success": (stopped_event("EssentialContainerExited", 0), False),
            "failure already published by the task (exit 1)": (stopped_event("EssentialContainerExited", 1), False),
            "configuration or missing weights (exit 2)": (stopped_event("EssentialContainerExited", 2), True),
            "panic": (stopped_event("EssentialContainerExited", 101), True),
            "out of memory": (stopped_event("EssentialContainerExited", 137, "OutOfMemoryError: Container killed due to memory usage"), True),
            "image pull": (stopped_event("TaskFailedToStart", None, "CannotPullContainerError: pull access denied"), True),
            "stopped by someone": (stopped_event("UserInitiated", 143), True),
            "another cluster": (stopped_event("TaskFailedToStart", cluster=CLUSTER + "2"), False),
            "still running": (stopped_event("TaskFailedToStart", status="DEPROVISIONING"), False),
        }
        for case, (event, expected) in cases.items():
            self.assertEqual(pattern_matches(pattern, event), expected, case)

    def test_error_topic_is_encrypted_with_a_key_the_services_may_use(self):
        topic = RESOURCES["ErrorTopic"]["Properties"]
        # alias/aws/sns would silently drop EventBridge's and CloudWatch's messages.
        self.assertEqual(show(topic["KmsMasterKeyId"]), "!Ref ErrorTopicKey")
        self.assertEqual(show(RESOURCES["ErrorTopicPolicy"]["Properties"]["Topics"][0]), "!Ref ErrorTopic")

    def test_every_function_has_an_on_failure_destination(self):
        configs = {
            show(r["Properties"]["FunctionName"]): r["Properties"]
            for r in of_type("AWS::Lambda::EventInvokeConfig").values()
        }
        for name, f in of_type("AWS::Serverless::Function").items():
            config = configs.get(f"!Ref {name}")
            self.assertIsNotNone(config, f"{name}: no AWS::Lambda::EventInvokeConfig")
            self.assertEqual(config["Qualifier"], "$LATEST", name)
            destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            self.assertEqual(show(destination), "!Ref ErrorTopic", name)
            # A second, SAM-generated config would conflict with the explicit one.
            self.assertNotIn("EventInvokeConfig", f["Properties"], name)
            self.assertIn("!Ref ErrorTopic", EXPECTED_ACTIONS[name]["sns:Publish"], name)

    def test_every_log_group_has_an_error_line_alarm(self):
        filters = of_type("AWS::Logs::MetricFilter")
        alarms = of_type("AWS::CloudWatch::Alarm")
        for group in of_type("AWS::Logs::LogGroup"):
            mine = [f["Properties"] for f in filters.values() if show(f["Properties"]["LogGroupName"]) == f"!Ref {group}"]
            self.assertEqual(len(mine), 1, f"{group}: one error-line metric filter")
            (f,) = mine
            self.assertTrue(filter_matches(f["FilterPattern"], {"level": "error", "event": "config_error"}), group)
            self.assertTrue(filter_matches(f["FilterPattern"], {"level": "ERROR", "fields": {}}), group)
            self.assertFalse(filter_matches(f["FilterPattern"], {"level": "warn", "event": "attempt_failed"}), group)
            self.assertFalse(filter_matches(f["FilterPattern"], {"level": "INFO"}), group)
            (metric,) = f["MetricTransformations"]
            watching = [
                a for a in alarms.values()
                if a["Properties"].get("MetricName") == metric["MetricName"]
                and show(a["Properties"].get("Namespace")) == show(metric["MetricNamespace"])
            ]
            self.assertEqual(len(watching), 1, f"{group}: one alarm on {metric['MetricName']}")
            self.assert_alarm_notifies(watching[0]["Properties"])

    def test_every_function_has_an_invocation_errors_alarm(self):
        alarms = [a["Properties"] for a in of_type("AWS::CloudWatch::Alarm").values()]
        for name in of_type("AWS::Serverless::Function"):
            mine = [
                a for a in alarms
                if a.get("Namespace") == "AWS/Lambda" and a.get("MetricName") == "Errors"
                and [show(d["Value"]) for d in a.get("Dimensions", [])] == [f"!Ref {name}"]
            ]
            self.assertEqual(len(mine), 1, name)
            self.assert_alarm_notifies(mine[0])

    def test_alarm_names_match_the_topic_policy(self):
        # The topic policy admits alarms named STACK-*: an alarm named otherwise could not publish.
        for name, a in of_type("AWS::CloudWatch::Alarm").items():
            self.assertTrue(show(a["Properties"]["AlarmName"]).startswith("!Sub ${AWS::StackName}-"), name)
            self.assertEqual(a.get("DependsOn"), "ErrorTopicPolicy", name)

    def assert_alarm_notifies(self, alarm):
        self.assertIn("!Ref ErrorTopic", [show(x) for x in alarm["AlarmActions"]])
        self.assertEqual(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold")
        self.assertEqual(alarm["Threshold"], 1)
        self.assertEqual(alarm["Statistic"], "Sum")
        self.assertEqual(alarm["TreatMissingData"], "notBreaching")

    def test_the_task_logs_the_level_the_filter_reads(self):
        log = rust_sources("adapters/fargate-task/src")
        self.assertIn('m.insert("level".into(), json!(level));', log)
        self.assertRegex(log, r'"level":\s*"error"')


def filter_matches(pattern, line):
    """CloudWatch Logs JSON filter patterns of the form { ($.a = "x") || ($.b = "y") }."""
    body = re.fullmatch(r"\{\s*(.*?)\s*\}", pattern.strip())
    assert body, pattern
    terms = re.split(r"\s*\|\|\s*", body.group(1))
    result = False
    for term in terms:
        m = re.fullmatch(r'\(?\s*\$\.([\w.]+)\s*=\s*"([^"]*)"\s*\)?', term)
        assert m, f"filter term not understood by this test: {term}"
        value = line
        for part in m.group(1).split("."):
            value = value.get(part) if isinstance(value, dict) else None
        result = result or value == m.group(2)
    return result


# ---------------------------------------------------------------- the image's build context


def dockerignore_excludes(patterns, path):
    """Whether .dockerignore excludes `path` (moby patternmatcher semantics: last match wins,
    `!` re-includes, a pattern matching a folder excludes what is in it)."""
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = os.path.normpath(pattern.strip()).lstrip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        if re.fullmatch(regex + "(?:/.*)?", path):
            excluded = not negate
    return excluded


class DockerBuildContext(unittest.TestCase):
    def setUp(self):
        lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        self.patterns = [l.strip() for l in lines if l.strip() and not l.strip().startswith("#")]

    def test_what_the_build_needs_is_sent(self):
        needed = ["Cargo.toml", "Cargo.lock", "weights/manifest.json", "weights/yolox_nano.onnx",
                  "adapters/fargate-task/src/main.rs", "adapters/results-store/migrations/1.sql"]
        cargo = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
        members = re.search(r"members\s*=\s*\[(.*?)\]", cargo, re.S).group(1)
        for member in re.findall(r'"([^"]+)"', members):
            for path in ROOT.glob(member):
                if (path / "Cargo.toml").exists():
                    rel = path.relative_to(ROOT).as_posix()
                    needed += [f"{rel}/Cargo.toml", f"{rel}/src/lib.rs"]
        dockerfile = (ROOT / "deploy" / "Dockerfile.task").read_text(encoding="utf-8")
        for src in re.findall(r"^COPY\s+(?!--from)(\S+)\s+\S+", dockerfile, re.M):
            if src != ".":
                needed.append(src.rstrip("/") + "/x")
        for path in needed:
            self.assertFalse(dockerignore_excludes(self.patterns, path), path)

    def test_what_the_build_does_not_need_stays_out(self):
        for path in [".git/HEAD", "target/release/footfall", "out/frame.jpg", "fuzz/artifacts/crash-1",
                     "fuzz/target/x", "fuzz/corpus/csv_line/seed", "deploy/build/controller-lambda/bootstrap.zip",
                     "yolox_s.onnx", "detector-core/x.onnx", "weights/yolox_s.pth", ".env",
                     "adapters/x/__pycache__/a.pyc", "footfall-data/footfall.db"]:
            self.assertTrue(dockerignore_excludes(self.patterns, path), path)


if __name__ == "__main__":
    unittest.main()

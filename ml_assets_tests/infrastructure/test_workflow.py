"""The CI workflow: valid for GitHub, its selections resolve against the Definitions, and its jobs, run here in
order on small data (each with its own Dagster instance, as separate runners would), take a model to production."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import AssetSelection

from ml_assets.config import load_config
from ml_assets.definitions import build_definitions
from ml_assets.settings import PACKAGE_DIR, Settings
from ml_assets_tests.conftest import small_fraud_raw

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ml_pipeline.yml"
ACTION = ROOT / ".github" / "actions" / "setup" / "action.yml"
BIN = Path(sys.executable).parent
ORDER = ["data-validation", "training", "model-tests", "security-scan", "staging", "production"]


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


DAYS = '"$(.venv/bin/ml-assets days)"'


def job_selections() -> list[tuple[str, str]]:
    """(job, selection) for every `dagster asset materialize` in the workflow, the matrix expanded, in job order;
    a selection of days ends with ``--partition-range`` and the command that prints them."""
    jobs = workflow()["jobs"]
    out = []
    for name in ORDER:
        job = jobs[name]
        matrix = job.get("strategy", {}).get("matrix", {})
        for step in job["steps"]:
            found = re.search(
                r"dagster asset materialize -m ml_assets\.definitions --select \"([^\"]+)\"( --partition-range .*)?$",
                step.get("run", "").strip(),
            )
            if not found:
                continue
            if found.group(2):
                assert found.group(2) == f" --partition-range {DAYS}", found.group(2)
                out.append((name, f"{found.group(1)} --partition-range"))
                continue
            if "${{ matrix.algorithm }}" in found.group(1):
                out += [(name, found.group(1).replace("${{ matrix.algorithm }}", a)) for a in matrix["algorithm"]]
            else:
                out.append((name, found.group(1)))
    return out


@pytest.mark.pipeline
@pytest.mark.parametrize(("path", "schema"), [(WORKFLOW, "vendor.github-workflows"), (ACTION, "vendor.github-actions")])
def test_the_files_validate_against_githubs_schemas(path: Path, schema: str) -> None:
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.unit
def test_triggers_and_the_order_of_the_jobs() -> None:
    spec = workflow()
    triggers = spec[True] if True in spec else spec["on"]  # YAML 1.1 reads the key `on` as true
    assert "ml_assets/**" in triggers["push"]["paths"] and "data/**" in triggers["push"]["paths"]
    assert "pull_request" in triggers and triggers["schedule"] == [{"cron": "0 2 * * *"}]
    jobs = spec["jobs"]
    assert list(jobs) == ORDER
    for before, after in itertools.pairwise(ORDER):
        assert jobs[after]["needs"] == before
    assert jobs["training"]["strategy"]["matrix"]["algorithm"] == list(
        load_config(PACKAGE_DIR / "configs" / "fraud.yaml").algorithms
    )
    assert "refs/heads/develop" in jobs["staging"]["if"] and "pull_request" in jobs["staging"]["if"]
    assert jobs["production"]["if"].endswith("github.ref == 'refs/heads/main'")
    assert jobs["production"]["environment"] == "production"


@pytest.mark.unit
def test_every_selection_resolves_and_together_they_cover_the_pipeline(settings: Settings, monkeypatch) -> None:
    """Everything but monitoring, which the daily schedule and the sensors run in Dagster itself."""
    monkeypatch.setenv("ML_ASSETS_DATA_BUCKET", "bucket")
    config_path = ROOT / workflow()["env"]["ML_ASSETS_CONFIG"]
    defs = build_definitions(load_config(config_path), settings)
    graph = defs.resolve_asset_graph()
    covered = set()
    for job, selection in job_selections():
        days = selection.endswith(" --partition-range")
        keys = AssetSelection.from_coercible(selection.removesuffix(" --partition-range").split(",")).resolve(graph)
        assert keys, (job, selection)
        # one run holds either days (over a range) or unpartitioned assets, never both
        assert all((graph.get(k).partitions_def is not None) == days for k in keys), (job, selection)
        covered |= keys
    monitoring = AssetSelection.groups("monitoring").resolve(graph)
    assert monitoring and covered == graph.get_all_asset_keys() - monitoring


@pytest.mark.pipeline
def test_the_jobs_in_order_take_a_model_to_production(settings: Settings, tmp_path: Path) -> None:
    """What .ci/run does with the workflow: the same commands, one state shared as the runners share S3 and MLflow."""
    config = tmp_path / "fraud_small.yaml"
    config.write_text(yaml.safe_dump(small_fraud_raw(dataset={"generator": {"days": 30}})))
    env = {**os.environ, "ML_ASSETS_CONFIG": str(config), "ML_ASSETS_STORAGE": str(tmp_path / "shared")}
    generated = subprocess.run([str(BIN / "ml-assets"), "generate-data"], env=env, capture_output=True, text=True)
    assert generated.returncode == 0, generated.stderr
    days = subprocess.run([str(BIN / "ml-assets"), "days"], env=env, capture_output=True, text=True)
    assert days.returncode == 0 and re.fullmatch(r"\d{4}-\d\d-\d\d\.\.\.\d{4}-\d\d-\d\d\n", days.stdout), days
    for number, (job, selection) in enumerate(job_selections()):
        runner = tmp_path / f"runner{number}"  # a fresh Dagster instance per job, as on separate runners
        (runner / "dagster").mkdir(parents=True)
        (runner / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        select = selection.removesuffix(" --partition-range").split()
        if selection.endswith(" --partition-range"):
            select += ["--partition-range", days.stdout.strip()]
        done = subprocess.run(
            [str(BIN / "dagster"), "asset", "materialize", "-m", "ml_assets.definitions", "--select", *select],
            env={**env, "DAGSTER_HOME": str(runner / "dagster")},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"{job} ({selection}):\n{done.stderr[-4000:]}"
    summary = subprocess.run([str(BIN / "ml-assets"), "summary"], env=env, capture_output=True, text=True)
    assert summary.returncode == 0 and "curl" in summary.stdout, summary.stdout + summary.stderr


SHA_PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def uses(document: dict) -> list[str]:
    """Every `uses:` of a workflow's jobs or a composite action's steps."""
    steps = [step for job in document.get("jobs", {}).values() for step in job.get("steps", [])]
    steps += document.get("runs", {}).get("steps", [])
    return [step["uses"] for step in steps if "uses" in step]


@pytest.mark.unit
def test_ci_permissions_are_least_privilege_and_actions_pinned() -> None:
    spec = workflow()
    jobs = spec["jobs"]
    assert spec["permissions"] == {"contents": "read"}  # no OIDC token for the workflow as a whole
    for name, job in jobs.items():
        roles = [s["with"]["aws-role-arn"] for s in job["steps"] if s.get("uses") == "./.github/actions/setup"]
        assert job["permissions"] == {"contents": "read", "id-token": "write"}, name  # the token only where used
        # every job's role and MLflow password are its GitHub environment's: a ref the environment does not admit
        # (a pull request, for pipeline, staging and production) gets neither
        assert roles == ["${{ vars.AWS_ROLE_ARN }}"], name
        assert job["env"]["MLFLOW_TRACKING_PASSWORD"] == "${{ secrets.MLFLOW_TRACKING_PASSWORD }}", name
        assert job["env"]["MLFLOW_TRACKING_URI"] == "${{ vars.MLFLOW_TRACKING_URI }}", name
        if name in ("staging", "production"):
            assert job["environment"].split()[0] == name, name
            assert job["env"]["ML_ASSETS_SCORING_KEYS"] == "secretsmanager:${{ vars.SCORING_KEYS_SECRET_ARN }}"
        else:
            assert job["environment"] == "${{ github.event_name == 'pull_request' && 'pull-request' || 'pipeline' }}"
    env = spec["env"]
    assert not [key for key, value in env.items() if "secrets." in str(value)]  # no secret for every job
    # a pull request writes under its own prefix
    assert (
        "'pull-requests' || 'runs'" in env["ML_ASSETS_STORAGE"]
        and "'pull-requests' || 'runs'" in env["ML_ASSETS_REPORTS"]
    )
    # the production release may outlast an hour: its session lasts two (the deploy role's maximum)
    production = next(s for s in jobs["production"]["steps"] if s.get("uses") == "./.github/actions/setup")
    assert production["with"]["role-duration-seconds"] == 7200
    assert "role-duration-seconds: ${{ inputs.role-duration-seconds }}" in ACTION.read_text()
    # forks' pull requests never run: the first job refuses them and every other job needs it, directly or not
    assert jobs["data-validation"]["if"] == (
        "github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name == github.repository"
    )
    assert all("needs" in job for name, job in jobs.items() if name != "data-validation")
    actions = uses(spec) + uses(yaml.safe_load(ACTION.read_text()))
    external = [action for action in actions if not action.startswith("./")]
    assert external and all(SHA_PINNED.match(action) for action in external), external
    checkouts = [s for job in jobs.values() for s in job["steps"] if s.get("uses", "").startswith("actions/checkout")]
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)


@pytest.mark.unit
def test_the_ci_roles_trust_only_the_runs_that_use_them() -> None:
    """terraform/modules/ci: the trust (the token's sub claim) and the prefixes each role may write are the ones the
    workflow uses."""
    module = "\n".join(p.read_text() for p in sorted((ROOT / "terraform/modules/ci").glob("*.tf")))
    assert 'pull-request = ["repo:${var.github_repository}:environment:pull-request"]' in module
    assert 'pipeline     = ["repo:${var.github_repository}:environment:pipeline"]' in module
    assert '"deploy-${environment}" => ["repo:${var.github_repository}:environment:${environment}"]' in module
    assert 'variable = "token.actions.githubusercontent.com:aud"' in module
    assert re.search(r'test\s+= "StringEquals"\n\s+variable = "token.actions.githubusercontent.com:sub"', module)
    writes = dict(re.findall(r"(\S+)\s+= \{ reads = \[[^\]]*\], writes = \[([^\]]*)\] \}", module))
    assert writes["pull-request"] == '"ci/pull-requests/"' and writes["pipeline"] == '"ci/runs/", "model-store/"'
    # a pull request's models are anchored under its own prefix, never in the model store releases load from
    assert (
        "format('ci/pull-requests/{0}/model-store', github.run_id) || 'model-store'"
        in workflow()["env"]["ML_ASSETS_MODEL_STORE"]
    )
    assert writes["deploy"] == '"ci/runs/", "rollouts/"'
    # only the deploy roles may touch ECS services, weights or the model servers' roles
    release = module.split('data "aws_iam_policy_document" "release"')[1]
    objects = module.split('data "aws_iam_policy_document" "objects"')[1].split("resource ")[0]
    assert "ecs:UpdateService" in release and "ModifyRule" in release and "iam:PassRole" in release
    # a release registers the model servers' task definition again: it may pass exactly that definition's roles,
    # as the platform module names them, and no role that reads secrets
    passed = re.search(
        r'for role in \[([^\]]*)\] : "arn:aws:iam::\$\{local.account\}:role/'
        r'\$\{var.project\}-\$\{each.key\}-\$\{role\}"',
        release,
    )
    platform = (ROOT / "terraform/modules/platform/main.tf").read_text()
    for role in re.findall(r'"([\w-]+)"', passed.group(1)):
        assert f'name               = "${{var.name}}-{role}"' in platform, role
    assert sorted(re.findall(r'"([\w-]+)"', passed.group(1))) == ["model-server", "model-server-execution"]
    serving_roles = (ROOT / "terraform/modules/environment/main.tf").read_text()
    assert "execution_role_arn              = module.platform.model_server_execution_role_arn" in serving_roles
    assert not re.search(r"ecs:|elasticloadbalancing:|iam:|secretsmanager:", objects)
    assert 'source            = "../modules/ci"' in (ROOT / "terraform/bootstrap/main.tf").read_text()

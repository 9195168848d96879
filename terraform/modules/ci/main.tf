# What the CI workflow may do in AWS, reviewed here rather than clicked together: GitHub's OIDC provider and one
# role per GitHub environment the workflow's jobs run in, each trusting only that environment's jobs (the token's
# `sub` claim is repo:<owner/name>:environment:<name>):
# - pull-request: pull requests' jobs; reads landing data, writes only under ci/pull-requests/;
# - pipeline: the jobs of main and develop before a release; writes only under ci/runs/ and model-store/ (the models
#   it trains and their digests, which nothing else may write);
# - deploy-<environment>: the release jobs (staging, production), which alone may move that environment's model
#   servers and weights.
# Which refs may use an environment is GitHub's deployment-branch rule, set on the environment (README, Security):
# pipeline and staging for main and develop, production for main with required reviewers. Forks' pull requests get
# no token (GitHub gives them none, and the workflow does not run them).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  region  = data.aws_region.current.region
  bucket  = "arn:aws:s3:::${var.project}-${var.ci_environment}-data-${local.account}"
  kms_key = "arn:aws:kms:${local.region}:${local.account}:key/*" # narrowed to the bucket's key by its alias below
  subjects = merge(
    {
      pull-request = ["repo:${var.github_repository}:environment:pull-request"]
      pipeline     = ["repo:${var.github_repository}:environment:pipeline"]
    },
    { for environment in var.deploy_environments : "deploy-${environment}" => ["repo:${var.github_repository}:environment:${environment}"] },
  )
}

resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "trust" {
  for_each = local.subjects
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = each.value
    }
  }
}

# Objects in the CI bucket: read what is under `reads`, write what is under `writes`, through the bucket's key.
data "aws_iam_policy_document" "objects" {
  for_each = {
    pull-request = { reads = ["landing/"], writes = ["ci/pull-requests/"] }
    pipeline     = { reads = ["landing/"], writes = ["ci/runs/", "model-store/"] }
    deploy       = { reads = ["landing/", "traffic/", "model-store/"], writes = ["ci/runs/", "rollouts/"] }
  }
  statement {
    sid       = "List"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for prefix in concat(each.value.reads, each.value.writes) : "${prefix}*"]
    }
  }
  statement {
    sid       = "Read"
    actions   = ["s3:GetObject"]
    resources = [for prefix in concat(each.value.reads, each.value.writes) : "${local.bucket}/${prefix}*"]
  }
  statement {
    sid       = "Write"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = [for prefix in each.value.writes : "${local.bucket}/${prefix}*"]
  }
  dynamic "statement" {
    for_each = contains(each.value.writes, "model-store/") ? [1] : []
    content { # served models are created, never replaced or removed (S3 checks If-None-Match)
      sid       = "ModelStoreWrittenOnce"
      effect    = "Deny"
      actions   = ["s3:PutObject"]
      resources = ["${local.bucket}/model-store/*"]
      condition {
        test     = "Null"
        variable = "s3:if-none-match"
        values   = ["true"]
      }
    }
  }
  dynamic "statement" {
    for_each = contains(each.value.writes, "model-store/") ? [1] : []
    content {
      sid       = "ModelStoreKept"
      effect    = "Deny"
      actions   = ["s3:DeleteObject"]
      resources = ["${local.bucket}/model-store/*"]
    }
  }
  statement {
    sid       = "BucketKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [local.kms_key]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "kms:ResourceAliases"
      values   = ["alias/${var.project}-${var.ci_environment}"]
    }
  }
}

resource "aws_iam_role" "pull_request" {
  name                 = "${var.project}-ci-pull-request"
  assume_role_policy   = data.aws_iam_policy_document.trust["pull-request"].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "pull_request" {
  name   = "own-prefix"
  role   = aws_iam_role.pull_request.id
  policy = data.aws_iam_policy_document.objects["pull-request"].json
}

resource "aws_iam_role" "pipeline" {
  name                 = "${var.project}-ci-pipeline"
  assume_role_policy   = data.aws_iam_policy_document.trust["pipeline"].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "pipeline" {
  name   = "run-values"
  role   = aws_iam_role.pipeline.id
  policy = data.aws_iam_policy_document.objects["pipeline"].json
}

resource "aws_iam_role" "deploy" {
  for_each             = toset(var.deploy_environments)
  name                 = "${var.project}-ci-deploy-${each.key}"
  assume_role_policy   = data.aws_iam_policy_document.trust["deploy-${each.key}"].json
  max_session_duration = 7200 # a canary release takes up to two hours (the production job's timeout)
}

resource "aws_iam_role_policy" "deploy_objects" {
  for_each = aws_iam_role.deploy
  name     = "run-values-and-release-state"
  role     = each.value.id
  policy   = data.aws_iam_policy_document.objects["deploy"].json
}

# A release in one environment: its services, its scoring rule, its model servers' roles and API key, nothing else.
data "aws_iam_policy_document" "release" {
  # checkov:skip=CKV_AWS_356:RegisterTaskDefinition, DescribeTaskDefinition, elasticloadbalancing:Describe* and cloudwatch:GetMetricData/DescribeAlarms support no resource-level permissions.
  # checkov:skip=CKV_AWS_111:RegisterTaskDefinition has no resource-level permissions; iam:PassRole below limits what a definition can use.
  for_each = toset(var.deploy_environments)
  statement {
    sid       = "Services"
    actions   = ["ecs:UpdateService", "ecs:DescribeServices"]
    resources = ["arn:aws:ecs:${local.region}:${local.account}:service/${var.project}-${each.key}/*"]
  }
  statement {
    sid       = "NoResourceLevelPermissions"
    actions   = ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "elasticloadbalancing:Describe*", "cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"]
    resources = ["*"]
  }
  statement {
    sid       = "Weights"
    actions   = ["elasticloadbalancing:ModifyRule"]
    resources = ["arn:aws:elasticloadbalancing:${local.region}:${local.account}:listener-rule/app/${var.project}-${each.key}/*"]
  }
  statement {
    sid     = "ModelServerRoles"
    actions = ["iam:PassRole"]
    # the model servers' task definition's roles only (never Dagster's or MLflow's execution roles, which read secrets)
    resources = [for role in ["model-server-execution", "model-server"] : "arn:aws:iam::${local.account}:role/${var.project}-${each.key}-${role}"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
  statement {
    sid       = "ScoringKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:${local.region}:${local.account}:secret:${var.project}-${each.key}/scoring-keys-*"]
  }
  statement {
    sid       = "ScoringKeyDecrypt"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "kms:ResourceAliases"
      values   = ["alias/${var.project}-${each.key}"]
    }
  }
  statement {
    sid       = "ReleaseMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["MLPipeline/*", "MLAssets/*"]
    }
  }
}

resource "aws_iam_role_policy" "deploy_release" {
  for_each = aws_iam_role.deploy
  name     = "release"
  role     = each.value.id
  policy   = data.aws_iam_policy_document.release[each.key].json
}

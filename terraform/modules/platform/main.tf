# The ECS cluster and the platform services: the MLflow tracking server and Dagster (webserver, daemon, code
# location). Pipeline runs are separate ECS tasks started by the daemon's EcsRunLauncher, so they scale out.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  namespace  = "${var.name}.internal"
  mlflow_url = "http://mlflow.${local.namespace}:5000"
  # One database user per service (ml-assets db-setup creates them with the master user, once): neither service
  # can open the other's database, and no service holds the master password.
  database_users = toset(["mlflow", "dagster"])
  dagster_pg     = { DAGSTER_PG_HOST = var.database_address, DAGSTER_PG_DB = "dagster", DAGSTER_PG_USERNAME = "dagster" }
  pg_password    = [{ name = "DAGSTER_PG_PASSWORD", valueFrom = "${aws_secretsmanager_secret.database_user["dagster"].arn}:password::" }]
  # MLflow asks every caller for the pipeline's credentials (its basic-auth app); every task of the pipeline has them
  mlflow_credentials = [
    { name = "MLFLOW_TRACKING_USERNAME", valueFrom = "${aws_secretsmanager_secret.mlflow_pipeline.arn}:username::" },
    { name = "MLFLOW_TRACKING_PASSWORD", valueFrom = "${aws_secretsmanager_secret.mlflow_pipeline.arn}:password::" },
  ]
  pipeline_secrets = concat(local.pg_password, local.mlflow_credentials)
  common_environment = {
    AWS_REGION            = data.aws_region.current.region
    ML_ASSETS_CONFIG      = var.pipeline_config
    ML_ASSETS_HOME        = "/tmp/ml_assets"
    MLFLOW_TRACKING_URI   = local.mlflow_url
    ML_ASSETS_DATA_BUCKET = var.data_bucket
    ML_ASSETS_STORAGE     = "s3://${var.data_bucket}/assets"
    ML_ASSETS_REPORTS     = "s3://${var.data_bucket}/reports"
    ML_ASSETS_MODEL_STORE = "s3://${var.data_bucket}/model-store"
    # the releases' own scoring requests (smoke, integration, load, golden records) present the newest API key
    ML_ASSETS_SCORING_KEYS      = "secretsmanager:${aws_secretsmanager_secret.scoring_keys.arn}"
    DAGSTER_RUN_TASK_DEFINITION = "${var.name}-dagster-run"
    DAGSTER_CODE_LOCATION_HOST  = "code-location.${local.namespace}"
    DAGSTER_COMPUTE_LOGS_BUCKET = var.artifacts_bucket
    # training.compute ecs: where a run starts the training task of an algorithm (Dagster Pipes)
    ML_ASSETS_ECS_CLUSTER              = var.name
    ML_ASSETS_TRAINING_TASK_PREFIX     = "${var.name}-train"
    ML_ASSETS_TRAINING_SUBNETS         = join(",", var.private_subnet_ids)
    ML_ASSETS_TRAINING_SECURITY_GROUPS = aws_security_group.tasks.id
  }
  # Containers run with a read-only root file system; /tmp is the only writable place.
  tmp_volume = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
  components = {
    mlflow = {
      command     = ["ml-assets", "mlflow-server", "--host", "0.0.0.0", "--port", "5000"]
      port        = 5000
      cpu         = 512
      memory      = 1024
      task_role   = aws_iam_role.mlflow.arn
      execution   = aws_iam_role.mlflow_execution.arn
      environment = { MLFLOW_DB_HOST = var.database_address, MLFLOW_DB_NAME = "mlflow", MLFLOW_DB_USER = "mlflow", MLFLOW_ARTIFACTS_DESTINATION = "s3://${var.artifacts_bucket}/mlflow", MLFLOW_ALLOWED_HOSTS = "mlflow.${local.namespace},mlflow.${local.namespace}:5000", MLFLOW_AUTH_ADMIN_USERNAME = "pipeline" }
      secrets = [
        { name = "MLFLOW_DB_PASSWORD", valueFrom = "${aws_secretsmanager_secret.database_user["mlflow"].arn}:password::" },
        { name = "MLFLOW_AUTH_ADMIN_PASSWORD", valueFrom = "${aws_secretsmanager_secret.mlflow_pipeline.arn}:password::" },
      ]
    }
    code-location = {
      command     = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "ml_assets.definitions"]
      port        = 4000
      cpu         = 1024
      memory      = 4096
      task_role   = aws_iam_role.dagster.arn
      execution   = aws_iam_role.execution.arn
      environment = merge(local.dagster_pg, { DAGSTER_CURRENT_IMAGE = var.code_location_image })
      secrets     = local.pipeline_secrets
    }
    dagster-webserver = {
      command     = ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "/opt/ml_assets/deploy/workspace.yaml"]
      port        = 3000
      cpu         = 512
      memory      = 2048
      task_role   = aws_iam_role.dagster.arn
      execution   = aws_iam_role.execution.arn
      environment = local.dagster_pg
      secrets     = local.pipeline_secrets
    }
    dagster-daemon = {
      command     = ["dagster-daemon", "run", "-w", "/opt/ml_assets/deploy/workspace.yaml"]
      port        = null
      cpu         = 512
      memory      = 2048
      task_role   = aws_iam_role.dagster.arn
      execution   = aws_iam_role.execution.arn
      environment = local.dagster_pg
      secrets     = local.pipeline_secrets
    }
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enhanced"
  }
  configuration {
    execute_command_configuration {
      kms_key_id = var.kms_key_arn
      logging    = "OVERRIDE"
      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.this["exec"].name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "this" {
  for_each          = toset(["mlflow", "code-location", "dagster-webserver", "dagster-daemon", "dagster-run", "training", "model-server", "exec"])
  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = local.namespace
  description = "Internal names of the platform services"
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "this" {
  for_each = { for key, component in local.components : key => component if component.port != null }
  name     = each.key == "code-location" ? "code-location" : (each.key == "mlflow" ? "mlflow" : "dagster")
  dns_config {
    namespace_id = aws_service_discovery_private_dns_namespace.this.id
    dns_records {
      type = "A"
      ttl  = 10
    }
    routing_policy = "MULTIVALUE"
  }
  health_check_custom_config {
    failure_threshold = 1
  }
}

# -- network ---------------------------------------------------------------------------------------------------

resource "aws_security_group" "tasks" {
  name        = "${var.name}-platform-tasks"
  description = "Dagster, MLflow and pipeline runs: reachable from each other only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_tasks" {
  for_each                     = toset(["3000", "4000", "5000"])
  security_group_id            = aws_security_group.tasks.id
  description                  = "Platform services from platform tasks"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)
  referenced_security_group_id = aws_security_group.tasks.id
}

# Model servers: the serving module lets the load balancer in on 8080. They never reach MLflow: they load the
# model store (S3, read-only), where only the pipeline writes models and their digests.
resource "aws_security_group" "model_servers" {
  # checkov:skip=CKV2_AWS_5:Attached to the model-server services in the serving module, which checkov scans separately.
  name        = "${var.name}-model-servers"
  description = "Model servers: reachable from the load balancer only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "model_servers_https" {
  security_group_id = aws_security_group.model_servers.id
  description       = "ECR, S3 (the model store), Secrets Manager and CloudWatch over HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "AWS APIs, ECR and S3 over HTTPS (through the NAT gateways)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "tasks_in_vpc" {
  for_each          = toset(["80", "3000", "4000", "5000", "5432", "8080"])
  security_group_id = aws_security_group.tasks.id
  description       = "Platform services, the database, and the internal load balancer inside the VPC"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.key)
  to_port           = tonumber(each.key)
  cidr_ipv4         = var.vpc_cidr
}

# -- identities ------------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# Used by ECS itself to pull images, write logs and read a service's secrets into its containers. One per service,
# each reading only its own secrets: a pipeline run (which can register task definitions and pass the Dagster one)
# cannot have MLflow's database password injected, and nothing but db-setup reads the master password.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-task-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role" "mlflow_execution" {
  name               = "${var.name}-mlflow-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role" "model_server_execution" {
  name               = "${var.name}-model-server-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

moved { # one attachment per execution role now; the Dagster one is the attachment there was
  from = aws_iam_role_policy_attachment.execution
  to   = aws_iam_role_policy_attachment.execution["dagster"]
}

resource "aws_iam_role_policy_attachment" "execution" {
  for_each   = { dagster = aws_iam_role.execution.name, mlflow = aws_iam_role.mlflow_execution.name, model_server = aws_iam_role.model_server_execution.name }
  role       = each.value
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_secrets" {
  name = "dagster-secrets"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = [aws_secretsmanager_secret.database_user["dagster"].arn, aws_secretsmanager_secret.mlflow_pipeline.arn] },
      { Effect = "Allow", Action = ["kms:Decrypt"], Resource = var.kms_key_arn }
    ]
  })
}

resource "aws_iam_role_policy" "mlflow_execution_secrets" {
  name = "mlflow-secrets"
  role = aws_iam_role.mlflow_execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = [aws_secretsmanager_secret.database_user["mlflow"].arn, aws_secretsmanager_secret.mlflow_pipeline.arn] },
      { Effect = "Allow", Action = ["kms:Decrypt"], Resource = var.kms_key_arn }
    ]
  })
}

resource "aws_iam_role" "mlflow" {
  name               = "${var.name}-mlflow"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "mlflow" {
  name = "artifacts"
  role = aws_iam_role.mlflow.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["s3:ListBucket"], Resource = var.artifacts_bucket_arn },
      { Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource = "${var.artifacts_bucket_arn}/mlflow/*" },
      { Effect = "Allow", Action = ["kms:Decrypt", "kms:GenerateDataKey"], Resource = var.kms_key_arn }
    ]
  })
}

# The services' own database passwords, generated without passing through Terraform's state (as MLflow's below).
ephemeral "aws_secretsmanager_random_password" "database_user" {
  for_each            = local.database_users
  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "database_user" {
  # checkov:skip=CKV2_AWS_57:Rotated by raising database_password_version, running db-setup again and restarting the services.
  for_each                = local.database_users
  name                    = "${var.name}/db-${each.key}"
  description             = "The ${each.key} service's database user"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "database_user" {
  for_each                 = local.database_users
  secret_id                = aws_secretsmanager_secret.database_user[each.key].id
  secret_string_wo         = jsonencode({ username = each.key, password = ephemeral.aws_secretsmanager_random_password.database_user[each.key].random_password })
  secret_string_wo_version = var.database_password_version
}

# Run once after the first apply, and after raising database_password_version: creates (or updates) the services'
# users and the dagster database with the master user (aws ecs run-task --task-definition <name>-db-setup).
resource "aws_iam_role" "db_setup_execution" {
  name               = "${var.name}-db-setup-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "db_setup_execution" {
  role       = aws_iam_role.db_setup_execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "db_setup_execution" {
  name = "read-master-and-service-passwords"
  role = aws_iam_role.db_setup_execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = concat([var.database_secret_arn], [for secret in aws_secretsmanager_secret.database_user : secret.arn]) },
      { Effect = "Allow", Action = ["kms:Decrypt"], Resource = var.kms_key_arn }
    ]
  })
}

resource "aws_ecs_task_definition" "db_setup" {
  family                   = "${var.name}-db-setup"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.db_setup_execution.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  container_definitions = jsonencode([{
    name                   = "db-setup"
    image                  = var.code_location_image
    command                = ["ml-assets", "db-setup"]
    essential              = true
    readonlyRootFilesystem = true
    environment = [for key, value in {
      MLFLOW_DB_HOST          = var.database_address
      MLFLOW_DB_USER          = "mlflow"
      DAGSTER_PG_USERNAME     = "dagster"
      ML_ASSETS_DB_ADMIN_USER = var.database_username
    } : { name = key, value = value }]
    secrets = [
      { name = "ML_ASSETS_DB_ADMIN_PASSWORD", valueFrom = "${var.database_secret_arn}:password::" },
      { name = "MLFLOW_DB_PASSWORD", valueFrom = "${aws_secretsmanager_secret.database_user["mlflow"].arn}:password::" },
      { name = "DAGSTER_PG_PASSWORD", valueFrom = "${aws_secretsmanager_secret.database_user["dagster"].arn}:password::" },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this["dagster-run"].name
        awslogs-region        = data.aws_region.current.region
        awslogs-stream-prefix = "db-setup"
      }
    }
  }])
}

# The pipeline's MLflow credentials ({"username": "pipeline", "password": ...}): the MLflow server's one user. The
# password is generated here and written without passing through Terraform's state (an ephemeral value into a
# write-only attribute); raise mlflow_password_version to rotate it, then restart the services.
ephemeral "aws_secretsmanager_random_password" "mlflow" {
  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "mlflow_pipeline" {
  # checkov:skip=CKV2_AWS_57:Rotated by raising mlflow_password_version (a new write-only value), then restarting the services.
  name                    = "${var.name}/mlflow-pipeline"
  description             = "The pipeline's MLflow user"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "mlflow_pipeline" {
  secret_id                = aws_secretsmanager_secret.mlflow_pipeline.id
  secret_string_wo         = jsonencode({ username = "pipeline", password = ephemeral.aws_secretsmanager_random_password.mlflow.random_password })
  secret_string_wo_version = var.mlflow_password_version
}

# The API keys scoring clients present ({"keys": ["newest", ...]}). Terraform creates the secret, never its value:
# put the first key after the first apply, rotate by adding a key first and removing the old one (README,
# "Security"). Model servers re-read it every ML_ASSETS_SCORING_KEYS_REFRESH_SECONDS.
resource "aws_secretsmanager_secret" "scoring_keys" {
  # checkov:skip=CKV2_AWS_57:The keys are handed to clients, so rotation is the documented add-move-remove procedure, not a Lambda.
  name                    = "${var.name}/scoring-keys"
  description             = "API keys of the model servers' clients"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
}

# Model servers read the model store and the API keys, and publish their per-second metrics; nothing else.
resource "aws_iam_role" "model_server" {
  name               = "${var.name}-model-server"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "model_server" {
  name = "artifacts-and-metrics"
  role = aws_iam_role.model_server.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      { Effect = "Allow", Action = ["s3:GetObject"], Resource = [for bucket in concat([var.data_bucket], var.shared_model_store_buckets) : "arn:aws:s3:::${bucket}/model-store/*"] },
      { Effect = "Allow", Action = ["s3:PutObject"], Resource = "${var.data_bucket_arn}/traffic/*" },
      { Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = aws_secretsmanager_secret.scoring_keys.arn },
      { Effect = "Allow", Action = ["kms:Decrypt", "kms:GenerateDataKey"], Resource = var.kms_key_arn },
      {
        Effect    = "Allow"
        Action    = ["cloudwatch:PutMetricData"]
        Resource  = "*"
        Condition = { StringEquals = { "cloudwatch:namespace" = var.serving_metrics_namespace } }
      }
      ], length(var.shared_model_store_key_aliases) == 0 ? [] : [
      {
        # the shared model store's bucket key (another environment's), only through S3
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = "arn:aws:kms:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:key/*"
        Condition = { StringEquals = { "kms:ViaService" = "s3.${data.aws_region.current.region}.amazonaws.com" }, "ForAnyValue:StringEquals" = { "kms:ResourceAliases" = [for alias in var.shared_model_store_key_aliases : "alias/${alias}"] } }
      }
    ])
  })
}

# Dagster services and the pipeline runs they launch: data, artifacts, releases (ECS, ALB, CloudWatch).
resource "aws_iam_role" "dagster" {
  name               = "${var.name}-dagster"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "dagster" {
  # checkov:skip=CKV_AWS_355:ecs:RegisterTaskDefinition, ecs:Describe*, cloudwatch:GetMetricData and ec2:DescribeNetworkInterfaces support no resource-level permissions.
  # checkov:skip=CKV_AWS_290:RegisterTaskDefinition supports no resource-level permissions; iam:PassRole below limits what a definition can use.
  name = "pipeline"
  role = aws_iam_role.dagster.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Data"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.data_bucket_arn, var.artifacts_bucket_arn]
      },
      {
        Sid      = "DataObjects"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = ["${var.data_bucket_arn}/*", "${var.artifacts_bucket_arn}/*"]
      },
      {
        # served models are created, never replaced or removed: a write without If-None-Match is refused by S3
        Sid       = "ModelStoreWrittenOnce"
        Effect    = "Deny"
        Action    = ["s3:PutObject"]
        Resource  = "${var.data_bucket_arn}/model-store/*"
        Condition = { Null = { "s3:if-none-match" = "true" } }
      },
      { Sid = "ModelStoreKept", Effect = "Deny", Action = ["s3:DeleteObject"], Resource = "${var.data_bucket_arn}/model-store/*" },
      { Sid = "Encryption", Effect = "Allow", Action = ["kms:Decrypt", "kms:GenerateDataKey"], Resource = var.kms_key_arn },
      {
        Sid    = "RunsAndReleasesOnThisCluster"
        Effect = "Allow"
        Action = ["ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "ecs:UpdateService", "ecs:DescribeServices", "ecs:TagResource"]
        Resource = [
          "arn:aws:ecs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:task-definition/${var.name}-*",
          "arn:aws:ecs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:task/${var.name}/*",
          "arn:aws:ecs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:service/${var.name}/*",
        ]
      },
      {
        Sid      = "NoResourceLevelPermissions"
        Effect   = "Allow"
        Action   = ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTasks", "ec2:DescribeNetworkInterfaces", "elasticloadbalancing:Describe*", "cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"]
        Resource = "*"
      },
      {
        Sid       = "PipelineMetrics"
        Effect    = "Allow"
        Action    = ["cloudwatch:PutMetricData"]
        Resource  = "*"
        Condition = { StringLike = { "cloudwatch:namespace" = ["MLPipeline/*", "MLAssets/*"] } }
      },
      {
        Sid    = "AlarmsAndDashboard"
        Effect = "Allow"
        Action = ["cloudwatch:PutMetricAlarm", "cloudwatch:PutDashboard"]
        Resource = [
          "arn:aws:cloudwatch:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:alarm:${var.pipeline_name}-*",
          "arn:aws:cloudwatch::${data.aws_caller_identity.current.account_id}:dashboard/${var.pipeline_name}-*",
        ]
      },
      {
        Sid      = "ShiftTrafficOnThisEnvironment"
        Effect   = "Allow"
        Action   = ["elasticloadbalancing:ModifyRule"]
        Resource = "arn:aws:elasticloadbalancing:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:listener-rule/app/${var.name}/*"
      },
      {
        Sid      = "ScoringKeyForTheReleaseChecks"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = aws_secretsmanager_secret.scoring_keys.arn
      },
      {
        Sid       = "LaunchWithThePlatformRoles"
        Effect    = "Allow"
        Action    = ["iam:PassRole"]
        Resource  = [aws_iam_role.execution.arn, aws_iam_role.dagster.arn, aws_iam_role.model_server_execution.arn, aws_iam_role.model_server.arn]
        Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } }
      },
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:GetLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.this["dagster-run"].arn}:*", "${aws_cloudwatch_log_group.this["training"].arn}:*"]
      }
    ]
  })
}

# -- tasks and services ----------------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  for_each                 = local.components
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = each.value.execution
  task_role_arn            = each.value.task_role
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  volume {
    name = "tmp"
  }
  container_definitions = jsonencode([{
    name                   = each.key
    image                  = var.code_location_image
    command                = each.value.command
    essential              = true
    readonlyRootFilesystem = true
    mountPoints            = local.tmp_volume
    portMappings           = each.value.port == null ? [] : [{ containerPort = each.value.port, protocol = "tcp" }]
    environment            = [for key, value in merge(local.common_environment, each.value.environment) : { name = key, value = value }]
    secrets                = each.value.secrets
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this[each.key].name
        awslogs-region        = data.aws_region.current.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

# One-off tasks of the pipeline, same image, role and volume: the task definition the EcsRunLauncher starts each
# run with (dagster.yaml names it), and training through Dagster Pipes (training.compute: ecs), one per algorithm
# sized for it: a run starts it (RunTask on this cluster), passes the Pipes context in its environment and reads its
# reports from the log stream.
locals {
  jobs = merge(
    {
      "dagster-run" = {
        container   = "run"
        cpu         = var.run_cpu
        memory      = var.run_memory
        command     = null # the EcsRunLauncher sets it per run
        environment = merge(local.common_environment, local.dagster_pg)
        secrets     = local.pipeline_secrets
        log_group   = "dagster-run"
      }
    },
    {
      for algorithm, size in var.training_tasks : "train-${algorithm}" => {
        container   = "training"
        cpu         = size.cpu
        memory      = size.memory
        command     = ["python", "-m", "ml_assets.training.external"]
        environment = local.common_environment
        secrets     = local.mlflow_credentials # it registers the model it trains
        log_group   = "training"
      }
    },
  )
}

resource "aws_ecs_task_definition" "job" {
  for_each                 = local.jobs
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.dagster.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  volume {
    name = "tmp"
  }
  container_definitions = jsonencode([merge(
    {
      name                   = each.value.container
      image                  = var.code_location_image
      essential              = true
      readonlyRootFilesystem = true
      mountPoints            = local.tmp_volume
      environment            = [for key, value in each.value.environment : { name = key, value = value }]
      secrets                = each.value.secrets
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this[each.value.log_group].name
          awslogs-region        = data.aws_region.current.region
          awslogs-stream-prefix = each.value.container
        }
      }
    },
    each.value.command == null ? {} : { command = each.value.command },
  )])
}

moved {
  from = aws_ecs_task_definition.run
  to   = aws_ecs_task_definition.job["dagster-run"]
}

moved {
  from = aws_ecs_task_definition.training["random_forest"]
  to   = aws_ecs_task_definition.job["train-random_forest"]
}

moved {
  from = aws_ecs_task_definition.training["xgboost"]
  to   = aws_ecs_task_definition.job["train-xgboost"]
}

moved {
  from = aws_ecs_task_definition.training["neural_network"]
  to   = aws_ecs_task_definition.job["train-neural_network"]
}

resource "aws_ecs_service" "this" {
  for_each                           = local.components
  name                               = "${var.name}-${each.key}"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this[each.key].arn
  desired_count                      = 1
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = each.key == "dagster-daemon" ? 0 : 100
  deployment_maximum_percent         = each.key == "dagster-daemon" ? 100 : 200
  enable_execute_command             = false
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }
  dynamic "service_registries" {
    for_each = each.value.port == null ? [] : [aws_service_discovery_service.this[each.key].arn]
    content {
      registry_arn = service_registries.value
    }
  }
}

# One environment (staging or production): every module wired together.

data "aws_caller_identity" "current" {}

locals {
  name = "${var.project}-${var.environment}"
  # The CI workflow trains once, in its environment's data bucket, and releases to every environment: the model
  # servers read its model store (a release tells them where, ML_ASSETS_MODEL_STORE).
  ci_name = "${var.project}-${var.ci_environment}"
  shared  = var.ci_environment == var.environment ? [] : [local.ci_name]
}

data "aws_ecr_repository" "this" {
  for_each = toset(["model-server", "code-location"])
  name     = "${var.project}-${each.key}"
}

module "storage" {
  source = "../storage"
  name   = local.name
}

module "network" {
  source             = "../network"
  name               = local.name
  availability_zones = var.availability_zones
  cidr_block         = var.vpc_cidr
  kms_key_arn        = module.storage.kms_key_arn
}

module "platform" {
  source               = "../platform"
  name                 = local.name
  pipeline_name        = var.pipeline_name
  pipeline_config      = var.pipeline_config
  vpc_id               = module.network.vpc_id
  vpc_cidr             = var.vpc_cidr
  private_subnet_ids   = module.network.private_subnet_ids
  kms_key_arn          = module.storage.kms_key_arn
  code_location_image  = "${data.aws_ecr_repository.this["code-location"].repository_url}:${var.image_tag}"
  data_bucket          = module.storage.data_bucket
  data_bucket_arn      = module.storage.data_bucket_arn
  artifacts_bucket     = module.storage.artifacts_bucket
  artifacts_bucket_arn = module.storage.artifacts_bucket_arn
  database_address     = module.database.address
  database_username    = module.database.username
  database_secret_arn  = module.database.master_user_secret_arn
  run_cpu              = var.run_cpu
  run_memory           = var.run_memory

  shared_model_store_buckets     = [for name in local.shared : "${name}-data-${data.aws_caller_identity.current.account_id}"]
  shared_model_store_key_aliases = local.shared
}

module "database" {
  source                   = "../database"
  name                     = local.name
  vpc_id                   = module.network.vpc_id
  private_subnet_ids       = module.network.private_subnet_ids
  client_security_group_id = module.platform.tasks_security_group_id
  kms_key_arn              = module.storage.kms_key_arn
  instance_class           = var.database_instance_class
  multi_az                 = var.database_multi_az
  deletion_protection      = var.deletion_protection
}

module "serving" {
  source                          = "../serving"
  name                            = local.name
  environment                     = var.environment
  vpc_id                          = module.network.vpc_id
  public_subnet_ids               = module.network.public_subnet_ids
  private_subnet_ids              = module.network.private_subnet_ids
  certificate_arn                 = var.certificate_arn
  allowed_cidr                    = var.allowed_cidr
  internal_source_ips             = module.network.nat_public_ips
  scoring_keys_secret_arn         = module.platform.scoring_keys_secret_arn
  cluster_arn                     = module.platform.cluster_arn
  image                           = "${data.aws_ecr_repository.this["model-server"].repository_url}:${var.image_tag}"
  execution_role_arn              = module.platform.model_server_execution_role_arn
  task_role_arn                   = module.platform.model_server_role_arn
  model_servers_security_group_id = module.platform.model_servers_security_group_id
  model_store                     = "s3://${module.storage.data_bucket}/model-store"
  traffic_log                     = "s3://${module.storage.data_bucket}/traffic"
  log_group                       = module.platform.model_server_log_group
  kms_key_arn                     = module.storage.kms_key_arn
  deletion_protection             = var.deletion_protection
}

module "monitoring" {
  source            = "../monitoring"
  name              = local.name
  pipeline_name     = var.pipeline_name
  min_model_quality = var.min_model_quality
  kms_key_arn       = module.storage.kms_key_arn
  alarm_emails      = var.alarm_emails
}

variable "name" {
  description = "Name prefix: {project}-{environment}; the ECS cluster is named this."
  type        = string
}

variable "pipeline_name" {
  description = "The pipeline config's name (alarm and dashboard names start with it)."
  type        = string
}

variable "pipeline_config" {
  description = "Path of the pipeline config inside the image (ML_ASSETS_CONFIG)."
  type        = string
}

variable "vpc_id" {
  type = string
}

variable "vpc_cidr" {
  type = string
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "kms_key_arn" {
  type = string
}

variable "code_location_image" {
  description = "The code-location image (Dagster, the pipeline and MLflow), by immutable tag."
  type        = string
}

variable "data_bucket" {
  type = string
}

variable "data_bucket_arn" {
  type = string
}

variable "artifacts_bucket" {
  type = string
}

variable "artifacts_bucket_arn" {
  type = string
}

variable "database_address" {
  type = string
}

variable "database_username" {
  type = string
}

variable "database_secret_arn" {
  type = string
}

variable "serving_metrics_namespace" {
  description = "The CloudWatch namespace model servers publish to (deployment.aws.metrics_namespace)."
  type        = string
  default     = "MLAssets/Serving"
}

variable "run_cpu" {
  description = "vCPU units of a pipeline run task."
  type        = number
  default     = 2048
}

variable "run_memory" {
  description = "Memory (MiB) of a pipeline run task."
  type        = number
  default     = 8192
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "training_tasks" {
  description = "Training through Dagster Pipes (training.compute: ecs): the task size per algorithm (Fargate cpu units, MiB)."
  type        = map(object({ cpu = number, memory = number }))
  default = {
    random_forest  = { cpu = 4096, memory = 16384 } # n_jobs=-1: every core of the task
    xgboost        = { cpu = 2048, memory = 8192 }
    neural_network = { cpu = 2048, memory = 8192 }
  }
}

variable "mlflow_password_version" {
  description = "Raise to generate a new MLflow password for the pipeline (then restart the services)."
  type        = number
  default     = 1
}

variable "database_password_version" {
  description = "Raise to generate new database passwords for the services (then run db-setup and restart them)."
  type        = number
  default     = 1
}

variable "shared_model_store_buckets" {
  description = "Other data buckets whose model-store/ the model servers may read: the CI workflow's (it trains once and releases to every environment)."
  type        = list(string)
  default     = []
}

variable "shared_model_store_key_aliases" {
  description = "The KMS key aliases of those buckets."
  type        = list(string)
  default     = []
}

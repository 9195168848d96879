variable "name" {
  description = "Name prefix: {project}-{environment}."
  type        = string
}

variable "environment" {
  description = "staging or production (the model servers report it in their metrics)."
  type        = string
}

variable "vpc_id" {
  type = string
}

variable "public_subnet_ids" {
  type = list(string)
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "allowed_cidr" {
  description = "Who may call the model servers."
  type        = string
  default     = "0.0.0.0/0"
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener."
  type        = string
}

variable "cluster_arn" {
  type = string
}

variable "image" {
  description = "The model-server image, by immutable tag."
  type        = string
}

variable "cpu" {
  type    = number
  default = 1024
}

variable "memory" {
  type    = number
  default = 2048
}

variable "execution_role_arn" {
  type = string
}

variable "task_role_arn" {
  type = string
}

variable "model_servers_security_group_id" {
  type = string
}

variable "mlflow_tracking_uri" {
  type = string
}

variable "metrics_namespace" {
  description = "Where model servers publish their per-second metrics (deployment.aws.metrics_namespace)."
  type        = string
  default     = "MLAssets/Serving"
}

variable "traffic_log" {
  description = "Where each model server writes its sample of scored requests (deployment.aws.traffic_log)."
  type        = string
}

variable "log_group" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "deletion_protection" {
  type    = bool
  default = true
}

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
  description = "Who may call the model servers: your clients' network, chosen on purpose (no default)."
  type        = string
  validation {
    condition     = can(cidrhost(var.allowed_cidr, 0))
    error_message = "allowed_cidr must be a CIDR block, e.g. 203.0.113.0/24."
  }
}

variable "internal_source_ips" {
  description = "The VPC's NAT addresses: only requests from them may pick a colour with the slot header."
  type        = list(string)
}

variable "scoring_keys_secret_arn" {
  description = "The secret holding the API keys the model servers accept."
  type        = string
}

variable "rate_limit" {
  description = "WAF: requests one client IP may send in 5 minutes before it is blocked (raise it for a busy client)."
  type        = number
  default     = 60000
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

variable "model_store" {
  description = "Where the model servers read models and their digests (read-only; the pipeline writes them)."
  type        = string
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

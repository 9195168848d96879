variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "project" {
  description = "As deployment.aws.project in the pipeline config."
  type        = string
  default     = "ml-assets"
}

variable "pipeline_name" {
  type    = string
  default = "fraud"
}

variable "pipeline_config" {
  type    = string
  default = "/opt/ml_assets/ml_assets/configs/fraud_aws.yaml"
}

variable "image_tag" {
  description = "The git commit CI built and pushed the images for."
  type        = string
}

variable "certificate_arn" {
  type = string
}

variable "allowed_cidr" {
  description = "Who may call the model servers (no default: say who your clients are; 0.0.0.0/0 only on purpose)."
  type        = string
}

variable "vpc_cidr" {
  type    = string
  default = "10.20.0.0/16"
}

variable "database_instance_class" {
  type    = string
  default = "db.t4g.medium"
}

variable "database_multi_az" {
  type    = bool
  default = false
}

variable "deletion_protection" {
  type    = bool
  default = false
}

variable "min_model_quality" {
  description = "gates.min_average_precision of the pipeline config."
  type        = number
  default     = 0.4
}

variable "alarm_emails" {
  type    = list(string)
  default = []
}

variable "run_cpu" {
  type    = number
  default = 2048
}

variable "run_memory" {
  type    = number
  default = 8192
}

variable "project" {
  description = "Project name, as deployment.aws.project in the pipeline config."
  type        = string
}

variable "environment" {
  description = "staging or production."
  type        = string
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "pipeline_name" {
  description = "The pipeline config's name (fraud for the shipped config)."
  type        = string
}

variable "pipeline_config" {
  description = "Path of the pipeline config inside the code-location image."
  type        = string
}

variable "image_tag" {
  description = "Tag of both images (immutable: the git commit CI built them from)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for the model servers' HTTPS listener."
  type        = string
}

variable "allowed_cidr" {
  description = "Who may call the model servers."
  type        = string
}

variable "availability_zones" {
  type = list(string)
}

variable "vpc_cidr" {
  type = string
}

variable "database_instance_class" {
  type = string
}

variable "database_multi_az" {
  type = bool
}

variable "deletion_protection" {
  type = bool
}

variable "min_model_quality" {
  type = number
}

variable "alarm_emails" {
  type = list(string)
}

variable "run_cpu" {
  type = number
}

variable "run_memory" {
  type = number
}

variable "ci_environment" {
  description = "The environment whose data bucket the CI workflow uses (as terraform/modules/ci's ci_environment)."
  type        = string
  default     = "production"
}

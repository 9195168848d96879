variable "name" {
  description = "Name prefix: {project}-{environment}."
  type        = string
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object version is kept."
  type        = number
  default     = 90
}

variable "access_log_days" {
  description = "Days server access logs are kept."
  type        = number
  default     = 365
}

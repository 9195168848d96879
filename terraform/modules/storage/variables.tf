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

variable "traffic_sample_days" {
  description = "Days the model servers' samples of scored requests (raw transaction features, traffic/) are kept; monitoring reads each day's the next day."
  type        = number
  default     = 30
}

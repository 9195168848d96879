variable "name" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "access_log_bucket" {
  description = "Where the bucket's server access logs go."
  type        = string
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object version is kept."
  type        = number
}

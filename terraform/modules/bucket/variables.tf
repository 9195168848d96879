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

variable "expire_prefixes" {
  description = "Objects under these prefixes expire after so many days (e.g. the model servers' request outcomes)."
  type        = map(number)
  default     = {}
}

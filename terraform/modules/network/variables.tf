variable "name" {
  description = "Name prefix: {project}-{environment}."
  type        = string
}

variable "availability_zones" {
  description = "The two zones of the subnets, named explicitly so the layout never changes when AWS adds one."
  type        = list(string)
  validation {
    condition     = length(var.availability_zones) == 2
    error_message = "Give exactly two availability zones."
  }
}

variable "cidr_block" {
  description = "The VPC's address range; subnets are /20 slices of a /16."
  type        = string
  default     = "10.0.0.0/16"
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow-log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long flow logs are kept."
  type        = number
  default     = 365
}

variable "name" {
  description = "Name prefix: {project}-{environment}."
  type        = string
}

variable "pipeline_name" {
  description = "The pipeline config's name."
  type        = string
}

variable "min_model_quality" {
  description = "The model gate's minimum of the primary metric (gates.min_average_precision for fraud)."
  type        = number
}

variable "kms_key_arn" {
  type = string
}

variable "alarm_emails" {
  description = "Addresses notified when an alarm changes state."
  type        = list(string)
  default     = []
}

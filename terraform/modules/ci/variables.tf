variable "project" {
  description = "Project name, as deployment.aws.project in the pipeline config."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the repository whose workflow may assume these roles (no default: say which)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "ci_environment" {
  description = "The environment whose data bucket the workflow uses (ML_ASSETS_DATA_BUCKET): landing data, per-run values, rollout state, traffic log."
  type        = string
  default     = "production"
}

variable "deploy_environments" {
  description = "GitHub environments (and Terraform environments of the same name) a release job deploys to."
  type        = list(string)
  default     = ["staging", "production"]
}

variable "project" {
  description = "Project name: the prefix of every resource name (as deployment.aws.project in the pipeline config)."
  type        = string
  default     = "ml-assets"
}

variable "region" {
  description = "AWS region of the state bucket and the image repositories."
  type        = string
  default     = "eu-west-1"
}

variable "images_kept" {
  description = "Images kept per ECR repository."
  type        = number
  default     = 50
}

variable "github_repository" {
  description = "owner/name of the repository whose CI workflow gets the roles in modules/ci."
  type        = string
}

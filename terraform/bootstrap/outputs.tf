output "state_bucket" {
  description = "Put this in each environment's backend.hcl (bucket = ...)."
  value       = aws_s3_bucket.state.id
}

output "repository_urls" {
  description = "Where CI pushes the model-server and code-location images."
  value       = { for key, repository in aws_ecr_repository.this : key => repository.repository_url }
}

output "ci_roles" {
  description = "The variable AWS_ROLE_ARN of each GitHub environment (pull-request, pipeline, staging, production)."
  value = {
    pull_request = module.ci.pull_request_role_arn
    pipeline     = module.ci.pipeline_role_arn
    deploy       = module.ci.deploy_role_arns
  }
}

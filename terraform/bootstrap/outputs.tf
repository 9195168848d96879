output "state_bucket" {
  description = "Put this in each environment's backend.hcl (bucket = ...)."
  value       = aws_s3_bucket.state.id
}

output "repository_urls" {
  description = "Where CI pushes the model-server and code-location images."
  value       = { for key, repository in aws_ecr_repository.this : key => repository.repository_url }
}

output "ci_roles" {
  description = "Repository variables AWS_PR_ROLE_ARN and AWS_PIPELINE_ROLE_ARN; AWS_DEPLOY_ROLE_ARN in each GitHub environment."
  value = {
    pull_request = module.ci.pull_request_role_arn
    pipeline     = module.ci.pipeline_role_arn
    deploy       = module.ci.deploy_role_arns
  }
}

output "pull_request_role_arn" {
  description = "Repository variable AWS_PR_ROLE_ARN."
  value       = aws_iam_role.pull_request.arn
}

output "pipeline_role_arn" {
  description = "Repository variable AWS_PIPELINE_ROLE_ARN."
  value       = aws_iam_role.pipeline.arn
}

output "deploy_role_arns" {
  description = "Per GitHub environment: its variable AWS_DEPLOY_ROLE_ARN."
  value       = { for environment, role in aws_iam_role.deploy : environment => role.arn }
}

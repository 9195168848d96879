output "pull_request_role_arn" {
  description = "AWS_ROLE_ARN of the GitHub environment pull-request."
  value       = aws_iam_role.pull_request.arn
}

output "pipeline_role_arn" {
  description = "AWS_ROLE_ARN of the GitHub environment pipeline."
  value       = aws_iam_role.pipeline.arn
}

output "deploy_role_arns" {
  description = "AWS_ROLE_ARN of the GitHub environments staging and production."
  value       = { for environment, role in aws_iam_role.deploy : environment => role.arn }
}

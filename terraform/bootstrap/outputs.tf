output "state_bucket" {
  description = "Put this in each environment's backend.hcl (bucket = ...)."
  value       = aws_s3_bucket.state.id
}

output "repository_urls" {
  description = "Where CI pushes the model-server and code-location images."
  value       = { for key, repository in aws_ecr_repository.this : key => repository.repository_url }
}

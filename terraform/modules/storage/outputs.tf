output "kms_key_arn" {
  value = aws_kms_key.this.arn
}

output "data_bucket" {
  value = module.bucket["data"].id
}

output "data_bucket_arn" {
  value = module.bucket["data"].arn
}

output "artifacts_bucket" {
  value = module.bucket["artifacts"].id
}

output "artifacts_bucket_arn" {
  value = module.bucket["artifacts"].arn
}

output "address" {
  value = aws_db_instance.this.address
}

output "port" {
  value = aws_db_instance.this.port
}

output "username" {
  value = aws_db_instance.this.username
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret with the generated password (JSON: username, password)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

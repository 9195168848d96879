output "cluster_name" {
  value = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  value = aws_ecs_cluster.this.arn
}

output "tasks_security_group_id" {
  value = aws_security_group.tasks.id
}

output "model_server_execution_role_arn" {
  description = "The model servers' execution role: pulls the image and writes logs, reads no secret."
  value       = aws_iam_role.model_server_execution.arn
}

output "run_task_definition_family" {
  value = aws_ecs_task_definition.job["dagster-run"].family
}

output "mlflow_tracking_uri" {
  value = local.mlflow_url
}

output "dagster_webserver_url" {
  description = "Internal only: reach it through a VPN or SSM port forwarding."
  value       = "http://dagster.${local.namespace}:3000"
}

output "model_server_log_group" {
  value = aws_cloudwatch_log_group.this["model-server"].name
}

output "model_servers_security_group_id" {
  value = aws_security_group.model_servers.id
}

output "model_server_role_arn" {
  value = aws_iam_role.model_server.arn
}

output "scoring_keys_secret_arn" {
  description = "ML_ASSETS_SCORING_KEYS of the model servers (secretsmanager:<this>)."
  value       = aws_secretsmanager_secret.scoring_keys.arn
}

output "cluster_name" {
  description = "deployment.aws: the cluster is {project}-{environment}"
  value       = module.platform.cluster_name
}

output "load_balancer_name" {
  value = module.serving.load_balancer_name
}

output "model_endpoint" {
  description = "Point a DNS name at this load balancer (deployment.aws.public_urls)."
  value       = module.serving.load_balancer_dns_name
}

output "listener_port" {
  value = module.serving.listener_port
}

output "target_group_names" {
  value = module.serving.target_group_names
}

output "service_names" {
  value = module.serving.service_names
}

output "run_task_definition_family" {
  value = module.platform.run_task_definition_family
}

output "mlflow_tracking_uri" {
  value = module.platform.mlflow_tracking_uri
}

output "dagster_webserver_url" {
  value = module.platform.dagster_webserver_url
}

output "data_bucket" {
  value = module.storage.data_bucket
}

output "artifacts_bucket" {
  value = module.storage.artifacts_bucket
}

output "alarm_topic_arn" {
  value = module.monitoring.alarm_topic_arn
}

output "dashboard_name" {
  value = module.monitoring.dashboard_name
}

output "scoring_keys_secret_arn" {
  description = "Put the clients' API keys here: {\"keys\": [\"newest\", ...]} (README, Security)."
  value       = module.platform.scoring_keys_secret_arn
}

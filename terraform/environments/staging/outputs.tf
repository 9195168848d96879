output "environment" {
  description = "Names, endpoints and buckets of this environment (see the README's AWS section)."
  value = {
    cluster_name               = module.environment.cluster_name
    load_balancer_name         = module.environment.load_balancer_name
    model_endpoint             = module.environment.model_endpoint
    listener_port              = module.environment.listener_port
    target_group_names         = module.environment.target_group_names
    service_names              = module.environment.service_names
    run_task_definition_family = module.environment.run_task_definition_family
    mlflow_tracking_uri        = module.environment.mlflow_tracking_uri
    dagster_webserver_url      = module.environment.dagster_webserver_url
    data_bucket                = module.environment.data_bucket
    artifacts_bucket           = module.environment.artifacts_bucket
    alarm_topic_arn            = module.environment.alarm_topic_arn
    dashboard_name             = module.environment.dashboard_name
    scoring_keys_secret_arn    = module.environment.scoring_keys_secret_arn
  }
}

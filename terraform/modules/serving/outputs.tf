output "load_balancer_name" {
  value = aws_lb.this.name
}

output "load_balancer_dns_name" {
  value = aws_lb.this.dns_name
}

output "listener_port" {
  description = "deployment.aws.listener_port"
  value       = aws_lb_listener.https.port
}

output "target_group_names" {
  value = { for slot, group in aws_lb_target_group.this : slot => group.name }
}

output "service_names" {
  value = { for slot, service in aws_ecs_service.model : slot => service.name }
}

output "model_server_task_family" {
  value = aws_ecs_task_definition.model_server.family
}

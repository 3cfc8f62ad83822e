output "load_balancer_dns_name" {
  description = "Connect with ws://<this>/ (wss:// with a certificate)"
  value       = aws_lb.this.dns_name
}

output "target_group_arn" {
  description = "The WebSocket target group, health-checked through vitals"
  value       = aws_lb_target_group.websocket.arn
}

output "service_name" {
  description = "The ECS service"
  value       = aws_ecs_service.this.name
}

output "cluster_arn" {
  description = "The ECS cluster"
  value       = aws_ecs_cluster.this.arn
}

output "url" {
  description = "Where the ops team opens Budibase: https://<domain>."
  value       = local.url
}

output "alb_dns_name" {
  description = "The load balancer's DNS name: point domain at it (CNAME, or an alias record with alb_zone_id)."
  value       = aws_lb.budibase.dns_name
}

output "alb_zone_id" {
  description = "The load balancer's hosted zone, for a Route 53 alias record."
  value       = aws_lb.budibase.zone_id
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.budibase.name
}

output "service_name" {
  description = "The ECS service (one task)."
  value       = aws_ecs_service.budibase.name
}

output "efs_id" {
  description = "The data volume (/data of the single image)."
  value       = aws_efs_file_system.data.id
}

output "access_point_id" {
  description = "The access point the task mounts /data through (a restore goes into a folder under it)."
  value       = aws_efs_access_point.data.id
}

output "backup_vault_name" {
  description = "The AWS Backup vault holding the data volume's recovery points."
  value       = aws_backup_vault.budibase.name
}

output "secret_arn" {
  description = "Budibase's own credentials (JSON; BB_ADMIN_USER_EMAIL and BB_ADMIN_USER_PASSWORD are the first administrator's)."
  value       = aws_secretsmanager_secret.budibase.arn
}

output "log_group_name" {
  description = "The container's logs."
  value       = aws_cloudwatch_log_group.budibase.name
}

output "batch_bucket" {
  description = "Put batch files under s3://<batch_bucket>/<inbox_prefix>."
  value       = module.intake.bucket_name
}

output "inbox_prefix" {
  description = "Key prefix of incoming batches."
  value       = module.intake.inbox_prefix
}

output "api_endpoint" {
  description = "POST <api_endpoint>/batches (SigV4-signed)."
  value       = module.intake.api_endpoint
}

output "ops_api_endpoint" {
  description = "The ops API (ops_api/openapi.json); every call needs a Cognito access token of ops_user_pool_id."
  value       = module.ops_api.api_endpoint
}

output "ops_user_pool_id" {
  description = "The ops team's Cognito user pool."
  value       = module.ops_api.user_pool_id
}

output "ops_app_client_id" {
  description = "The ops app's Cognito client: its users' access tokens call the ops API."
  value       = module.ops_api.app_client_id
}

output "state_machine_arn" {
  description = "The triage state machine."
  value       = module.orchestration.state_machine_arn
}

output "store_url" {
  description = "The store, for `complaints --env ENV release apply` and ops scripts."
  value       = "dynamodb://${module.store.table_prefix}?region=${var.region}"
}

output "dead_letter_queue_url" {
  description = "Parked batches and chunks."
  value       = module.orchestration.dead_letter_queue_url
}

output "alarm_topic_arn" {
  description = "Every alarm notifies this topic."
  value       = module.alarms.topic_arn
}

output "release_tags" {
  description = "The tags every resource carries."
  value       = local.release_tags
}

output "budibase_url" {
  description = "Where the ops team opens Budibase; null when it is not hosted."
  value       = one(module.budibase[*].url)
}

output "budibase_alb_dns_name" {
  description = "Point the Budibase domain at this name (CNAME or alias)."
  value       = one(module.budibase[*].alb_dns_name)
}

output "budibase_cluster_name" {
  description = "Budibase's ECS cluster."
  value       = one(module.budibase[*].cluster_name)
}

output "budibase_service_name" {
  description = "Budibase's ECS service (one task)."
  value       = one(module.budibase[*].service_name)
}

output "budibase_efs_id" {
  description = "Budibase's data volume."
  value       = one(module.budibase[*].efs_id)
}

output "budibase_backup_vault_name" {
  description = "The vault of the data volume's backups."
  value       = one(module.budibase[*].backup_vault_name)
}

output "budibase_secret_arn" {
  description = "Budibase's own credentials, the first administrator's among them."
  value       = one(module.budibase[*].secret_arn)
}

output "ops_oidc_issuer" {
  description = "The ops user pool's OpenID Connect issuer (Budibase's OIDC config URL: <issuer>/.well-known/openid-configuration)."
  value       = module.ops_api.oidc_issuer
}

output "budibase_oidc_client_id" {
  description = "Budibase's OpenID Connect client of the ops user pool."
  value       = module.ops_api.budibase_client_id
}

output "budibase_oidc_secret_arn" {
  description = "The secret holding that client's issuer, id and secret (for Budibase's OIDC settings)."
  value       = module.ops_api.budibase_client_secret_arn
}

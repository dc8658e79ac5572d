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
  description = "The store, for `python -m functions.release publish --store ...` and ops scripts."
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

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

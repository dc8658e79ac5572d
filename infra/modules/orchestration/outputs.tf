output "state_machine_arn" {
  description = "ARN of the triage state machine."
  value       = aws_sfn_state_machine.triage.arn
}

output "state_machine_name" {
  description = "Name of the triage state machine."
  value       = aws_sfn_state_machine.triage.name
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue (batches or chunks nobody could triage, undelivered events)."
  value       = aws_sqs_queue.dead_letter.arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.url
}

output "dead_letter_queue_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.name
}

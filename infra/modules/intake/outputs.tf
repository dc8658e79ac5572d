output "bucket_name" {
  description = "The batch bucket: put batch files under inbox_prefix."
  value       = module.batches.name
}

output "bucket_arn" {
  description = "ARN of the batch bucket."
  value       = module.batches.arn
}

output "inbox_prefix" {
  description = "Key prefix of incoming batches."
  value       = var.inbox_prefix
}

output "chunk_prefix" {
  description = "Key prefix of the chunks."
  value       = var.chunk_prefix
}

output "api_endpoint" {
  description = "Base URL of the intake API; POST <api_endpoint>/batches with a SigV4-signed request."
  value       = aws_apigatewayv2_api.intake.api_endpoint
}

output "api_id" {
  description = "Id of the intake API."
  value       = aws_apigatewayv2_api.intake.id
}

output "function_arns" {
  description = "Function ARN by handler name (intake, triage, manual_triage, submit, reconcile, ops_api)."
  value       = { for name, function in aws_lambda_function.this : name => function.arn }
}

output "function_names" {
  description = "Function name by handler name."
  value       = { for name, function in aws_lambda_function.this : name => function.function_name }
}

output "log_group_names" {
  description = "Log group name by handler name."
  value       = { for name, group in aws_cloudwatch_log_group.function : name => group.name }
}

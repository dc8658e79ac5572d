output "table_prefix" {
  description = "Prefix of the table names."
  value       = var.table_prefix
}

output "table_arns" {
  description = "Table ARN by store table name (raw_complaints, complaints_allocation, ...)."
  value       = { for name, table in aws_dynamodb_table.this : name => table.arn }
}

output "table_names" {
  description = "Table name by store table name."
  value       = { for name, table in aws_dynamodb_table.this : name => table.name }
}

output "key_arn" {
  description = "ARN of the customer managed key that encrypts the stack's data."
  value       = aws_kms_key.data.arn
}

output "alias" {
  description = "Alias of the key."
  value       = aws_kms_alias.data.name
}

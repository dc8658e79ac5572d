output "api_endpoint" {
  description = "Base URL of the ops API: <api_endpoint>/queues, /complaints/{id}, ... (ops_api/openapi.json)."
  value       = aws_apigatewayv2_api.ops.api_endpoint
}

output "api_id" {
  description = "The ops API's id."
  value       = aws_apigatewayv2_api.ops.id
}

output "user_pool_id" {
  description = "The Cognito user pool of the ops team."
  value       = aws_cognito_user_pool.ops.id
}

output "app_client_id" {
  description = "The app client the ops app signs users in with (its access tokens are the API's audience)."
  value       = aws_cognito_user_pool_client.ops_app.id
}

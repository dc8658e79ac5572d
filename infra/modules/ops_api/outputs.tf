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

output "client_ids" {
  description = "Every app client whose access tokens call the API (the ops app's, Budibase's): the authorizer's audience, and what the function checks an access token's client_id against."
  value       = local.client_ids
}

output "oidc_issuer" {
  description = "The user pool's OpenID Connect issuer; its discovery document is <oidc_issuer>/.well-known/openid-configuration."
  value       = local.issuer
}

output "budibase_client_id" {
  description = "Budibase's OpenID Connect client (one of the API's audiences); null when Budibase is not hosted."
  value       = one(aws_cognito_user_pool_client.budibase[*].id)
}

output "budibase_client_secret_arn" {
  description = "Secrets Manager secret holding that client's issuer, id and secret; null when Budibase is not hosted."
  value       = one(aws_secretsmanager_secret.budibase_oidc[*].arn)
}

output "sign_in_domain" {
  description = "Prefix of the hosted sign-in domain (https://<prefix>.auth.<region>.amazoncognito.com, found through the discovery document); null when Budibase is not hosted."
  value       = one(aws_cognito_user_pool_domain.ops[*].domain)
}

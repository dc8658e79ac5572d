# The ops API on AWS: an HTTP API whose every route requires a Cognito access token (API Gateway's JWT
# authorizer verifies it before the function runs), in front of the ops_api function (module functions),
# which verifies the token again against this pool's keys, issuer and app clients (outputs oidc_issuer and
# client_ids, which the stack gives module functions), and takes the user's role from the store's users table.
# The users are the ops team: no self sign-up; an administrator creates each one (and records the role with
# `complaints --env ENV users add`).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  issuer     = "https://${aws_cognito_user_pool.ops.endpoint}"
  client_ids = concat([aws_cognito_user_pool_client.ops_app.id], aws_cognito_user_pool_client.budibase[*].id) # an access token's client_id
}

resource "aws_cognito_user_pool" "ops" {
  name                     = "${var.name_prefix}-ops"
  deletion_protection      = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration        = "ON"
  username_attributes      = []
  auto_verified_attributes = ["email"]

  software_token_mfa_configuration {
    enabled = true
  }

  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = 14
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  user_pool_add_ons {
    advanced_security_mode = "ENFORCED" # compromised credentials and risky sign-ins are blocked
  }
}

# The ops app (Budibase) and other clients sign users in with SRP and send the access token. Access tokens
# live 10 minutes: a JWT check cannot see a sign-out or a revoked token, so this bounds how long a signed-out
# user's token still calls the API (`complaints users disable` refuses a user at once).
resource "aws_cognito_user_pool_client" "ops_app" {
  name                          = "${var.name_prefix}-ops-app"
  user_pool_id                  = aws_cognito_user_pool.ops.id
  generate_secret               = false
  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  access_token_validity         = 10
  id_token_validity             = 60
  refresh_token_validity        = 12

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "hours"
  }
}

# Budibase signs the ops team in by OpenID Connect against this pool (authorization code grant, through the
# hosted sign-in pages of the domain below) and calls the API with the signed-in user's access token, so its
# client is one of the API's audiences. Only when Budibase is hosted (budibase_url set).
resource "aws_cognito_user_pool_domain" "ops" {
  count        = var.budibase_url == null ? 0 : 1
  domain       = "${var.name_prefix}-ops-${data.aws_caller_identity.current.account_id}"
  user_pool_id = aws_cognito_user_pool.ops.id
}

resource "aws_cognito_user_pool_client" "budibase" {
  count                                = var.budibase_url == null ? 0 : 1
  name                                 = "${var.name_prefix}-budibase"
  user_pool_id                         = aws_cognito_user_pool.ops.id
  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email", "profile"]
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = ["${var.budibase_url}/api/global/auth/oidc/callback"]
  logout_urls                          = ["${var.budibase_url}/"]
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  access_token_validity                = 10 # as the ops app's: Budibase refreshes it when the API answers 401
  id_token_validity                    = 60
  refresh_token_validity               = 12

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "hours"
  }
}

# The client secret goes into Budibase's OIDC settings by hand, from here; it is never an output.
resource "aws_secretsmanager_secret" "budibase_oidc" {
  #checkov:skip=CKV2_AWS_57:Cognito cannot rotate an app client's secret in place; a new secret means a new client (taint it) and pasting both into Budibase's OIDC settings.
  count       = var.budibase_url == null ? 0 : 1
  name        = "${var.name_prefix}/budibase-oidc-client"
  description = "Budibase's OpenID Connect client of the ops user pool (JSON: issuer, client_id, client_secret)."
  kms_key_id  = var.kms_key_arn
}

# The copy is put outside Terraform, from Cognito, by the AWS CLI on the machine that applies: no secret
# version is in the state, so a plan reads no secret value to refresh one. (The client's own state still holds
# its secret: Cognito returns it with the client, and Budibase signs in as a confidential client.)
resource "terraform_data" "budibase_oidc" {
  count            = var.budibase_url == null ? 0 : 1
  triggers_replace = [aws_secretsmanager_secret.budibase_oidc[0].id, aws_cognito_user_pool_client.budibase[0].id]

  provisioner "local-exec" {
    interpreter = ["bash", "-c"]
    command     = <<-EOT
      set -euo pipefail
      aws cognito-idp describe-user-pool-client --region "$REGION" --user-pool-id "$USER_POOL_ID" --client-id "$CLIENT_ID" \
        --query "{issuer: '$ISSUER', client_id: UserPoolClient.ClientId, client_secret: UserPoolClient.ClientSecret}" \
        --output json |
        aws secretsmanager put-secret-value --region "$REGION" --secret-id "$SECRET_ID" --secret-string file:///dev/stdin \
          --query VersionId --output text
    EOT
    environment = {
      REGION       = data.aws_region.current.name
      USER_POOL_ID = aws_cognito_user_pool.ops.id
      CLIENT_ID    = aws_cognito_user_pool_client.budibase[0].id
      ISSUER       = local.issuer
      SECRET_ID    = aws_secretsmanager_secret.budibase_oidc[0].arn
    }
  }
}

resource "aws_apigatewayv2_api" "ops" {
  name          = "${var.name_prefix}-ops"
  protocol_type = "HTTP"
  description   = "The ops API (ops_api/openapi.json): queues, complaints, corrections, explanations, the audit chain."

  cors_configuration {
    allow_origins = var.allowed_origins
    allow_methods = ["GET", "POST"]
    allow_headers = ["Authorization", "Content-Type", "Idempotency-Key"]
    max_age       = 600
  }
}

resource "aws_apigatewayv2_authorizer" "cognito" {
  api_id           = aws_apigatewayv2_api.ops.id
  name             = "cognito"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    audience = local.client_ids
    issuer   = local.issuer
  }
}

resource "aws_cloudwatch_log_group" "api" {
  name              = "/aws/vendedlogs/apigateway/${var.name_prefix}-ops"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.ops.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.burst_limit
    throttling_rate_limit  = var.rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({ # ids, routes and statuses: never a body
      requestId        = "$context.requestId"
      ip               = "$context.identity.sourceIp"
      user             = "$context.authorizer.claims.username"
      requestTime      = "$context.requestTime"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      responseLength   = "$context.responseLength"
      integrationError = "$context.integrationErrorMessage"
    })
  }
}

resource "aws_apigatewayv2_integration" "ops_api" {
  api_id                 = aws_apigatewayv2_api.ops.id
  integration_type       = "AWS_PROXY"
  integration_uri        = var.function_arn
  payload_format_version = "2.0"
}

# Every path goes to the app, which routes it; none is reachable without a verified token.
resource "aws_apigatewayv2_route" "ops_api" {
  api_id             = aws_apigatewayv2_api.ops.id
  route_key          = "$default"
  target             = "integrations/${aws_apigatewayv2_integration.ops_api.id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.cognito.id
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowTheOpsApi"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.ops.execution_arn}/*"
}

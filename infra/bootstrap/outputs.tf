output "state_bucket" {
  description = "Put this in infra/envs/<env>.s3.tfbackend as bucket."
  value       = module.state_bucket.name
}

output "repository_url" {
  description = "Push the serving image here; the stack's image_uri is <repository_url>@sha256:<digest>."
  value       = aws_ecr_repository.serving.repository_url
}

output "github_oidc_provider_arn" {
  description = "GitHub Actions' OIDC identity provider that every role trusts."
  value       = local.github_oidc_provider_arn
}

output "plan_role_arns" {
  description = "role-to-assume of deploy.yml's plan job on pull requests, by environment (variable AWS_PLAN_ROLE_ARN of GitHub environment <env>-plan): that environment's configuration and state (read-only), plus the state lock."
  value       = { for environment, role in aws_iam_role.plan : environment => role.arn }
}

output "apply_role_arns" {
  description = "role-to-assume of each GitHub environment's deploy job, by environment: terraform apply, image push, release apply, smoke test."
  value       = { for environment, role in aws_iam_role.apply : environment => role.arn }
}

output "retrain_role_arns" {
  description = "role-to-assume of the retrain workflow on main, by environment: the environment's corrections and models (read-only), the Hub token."
  value       = { for environment, role in aws_iam_role.retrain : environment => role.arn }
}

output "gate_role_arns" {
  description = "role-to-assume of gate.yml's gate job on pull requests, by environment (variable AWS_GATE_ROLE_ARN of GitHub environment <env>-gate): the environment's corrections, shadow answers and strategies (read-only)."
  value       = { for environment, role in aws_iam_role.gate : environment => role.arn }
}

output "hub_token_secret_arns" {
  description = "By environment: the Secrets Manager secret (complaints-<env>/hugging-face-token) holding the Hugging Face Hub token its retrain workflow reads; put its value with aws secretsmanager put-secret-value."
  value       = { for environment, secret in aws_secretsmanager_secret.hub_token : environment => secret.arn }
}

output "permissions_boundary_arns" {
  description = "By environment: the permissions boundary every role of infra/stack carries (the stack names it complaints-<env>-role-boundary); the apply role creates no role without it."
  value       = { for environment, policy in aws_iam_policy.stack_role_boundary : environment => policy.arn }
}

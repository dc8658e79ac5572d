# The whole serverless stack of one environment (dev or prod: infra/envs/<env>.tfvars).

locals {
  name_prefix = "complaints-${var.environment}"

  release_tags = merge(
    {
      "complaints:environment" = var.environment
      "complaints:git-sha"     = var.git_sha
    },
    { for task, version in var.model_versions : "complaints:model:${task}" => version },
  )

  budibase_url = var.budibase == null ? null : "https://${var.budibase.domain}"

  # infra/bootstrap's boundary of this environment: every role the stack creates carries it, and the apply role
  # may create no role without it.
  permissions_boundary_arn = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:policy/${local.name_prefix}-role-boundary"
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

module "key" {
  source      = "../modules/key"
  name_prefix = local.name_prefix
}

module "store" {
  source              = "../modules/store"
  table_prefix        = local.name_prefix
  kms_key_arn         = module.key.key_arn
  deletion_protection = var.deletion_protection
}

module "functions" {
  source               = "../modules/functions"
  name_prefix          = local.name_prefix
  environment          = var.environment
  image_uri            = var.image_uri
  architecture         = var.architecture
  table_prefix         = module.store.table_prefix
  table_arns           = module.store.table_arns
  batch_bucket_name    = module.intake.bucket_name
  batch_bucket_arn     = module.intake.bucket_arn
  inbox_prefix         = module.intake.inbox_prefix
  chunk_prefix         = module.intake.chunk_prefix
  kms_key_arn          = module.key.key_arn
  chunk_size           = var.chunk_size
  reserved_concurrency = var.reserved_concurrency
  log_retention_days   = var.log_retention_days
  cognito_issuer       = module.ops_api.oidc_issuer # the ops API verifies its callers' access tokens itself
  cognito_client_ids   = module.ops_api.client_ids

  permissions_boundary_arn = local.permissions_boundary_arn
}

module "orchestration" {
  source             = "../modules/orchestration"
  name_prefix        = local.name_prefix
  function_arns      = module.functions.function_arns
  triage_concurrency = var.reserved_concurrency["triage"] # the Map runs as many chunks as triage may run at once
  batch_bucket_arn   = module.intake.bucket_arn
  chunk_prefix       = module.intake.chunk_prefix
  kms_key_arn        = module.key.key_arn
  release_tags       = local.release_tags
  log_retention_days = var.log_retention_days

  permissions_boundary_arn = local.permissions_boundary_arn
}

module "intake" {
  source                = "../modules/intake"
  name_prefix           = local.name_prefix
  kms_key_arn           = module.key.key_arn
  state_machine_arn     = module.orchestration.state_machine_arn
  dead_letter_queue_arn = module.orchestration.dead_letter_queue_arn
  dead_letter_queue_url = module.orchestration.dead_letter_queue_url
  submit_function_arn   = module.functions.function_arns["submit"]
  submit_function_name  = module.functions.function_names["submit"]
  api_rate_limit        = var.api_rate_limit
  api_burst_limit       = var.api_burst_limit
  log_retention_days    = var.log_retention_days

  permissions_boundary_arn = local.permissions_boundary_arn
}

module "ops_api" {
  source              = "../modules/ops_api"
  name_prefix         = local.name_prefix
  function_arn        = module.functions.function_arns["ops_api"]
  function_name       = module.functions.function_names["ops_api"]
  kms_key_arn         = module.key.key_arn
  allowed_origins     = distinct(concat(var.ops_app_origins, local.budibase_url == null ? [] : [local.budibase_url]))
  budibase_url        = local.budibase_url
  deletion_protection = var.deletion_protection
  log_retention_days  = var.log_retention_days
}

# The ops team's front end, in the landing-zone VPC; absent until envs/<env>.tfvars sets budibase.
module "budibase" {
  count                        = var.budibase == null ? 0 : 1
  source                       = "../modules/budibase"
  name_prefix                  = local.name_prefix
  kms_key_arn                  = module.key.key_arn
  domain                       = var.budibase.domain
  certificate_arn              = var.budibase.certificate_arn
  vpc_id                       = var.budibase.vpc_id
  private_subnet_ids           = var.budibase.private_subnet_ids
  public_subnet_ids            = var.budibase.public_subnet_ids
  internal                     = var.budibase.internal
  allowed_cidrs                = var.budibase.allowed_cidrs
  admin_email                  = var.budibase.admin_email
  image_version                = var.budibase.image_version
  cpu                          = var.budibase.cpu
  memory                       = var.budibase.memory
  backup_retention_days        = var.budibase.backup_retention_days
  weekly_backup_retention_days = var.budibase.weekly_backup_retention_days
  log_retention_days           = var.log_retention_days
  deletion_protection          = var.deletion_protection

  permissions_boundary_arn = local.permissions_boundary_arn
}

module "alarms" {
  source                 = "../modules/alarms"
  name_prefix            = local.name_prefix
  environment            = var.environment
  kms_key_arn            = module.key.key_arn
  alarm_emails           = var.alarm_emails
  state_machine_arn      = module.orchestration.state_machine_arn
  dead_letter_queue_name = module.orchestration.dead_letter_queue_name
  function_names         = module.functions.function_names
  table_names            = module.store.table_names
  api_id                 = module.intake.api_id
}

# Self-hosted Budibase, the ops team's front end, in the bank's landing-zone VPC: the official single image
# (app, worker, CouchDB, Redis, MinIO and nginx in one container, all state under /data) as one Fargate task
# in the private subnets, /data on an encrypted EFS volume backed up by AWS Backup, behind an HTTPS load
# balancer with a web application firewall. Budibase reaches the stack's data only through the ops API, as
# the signed-in user (module ops_api's Budibase client): its roles may read its own secrets and mount its
# own volume, nothing else.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_elb_service_account" "current" {}

locals {
  name           = "${var.name_prefix}-budibase"
  account_id     = data.aws_caller_identity.current.account_id
  alb_log_bucket = "${local.name}-alb-logs-${local.account_id}"
  region         = data.aws_region.current.name
  partition      = data.aws_partition.current.partition
  url            = "https://${var.domain}"
  container_name = "budibase"
  container_port = 80 # the image's nginx, in front of the app, the worker and MinIO
  data_path      = "/data"

  # What the load balancer writes: its access logs, under this account's prefix, and nothing else.
  alb_log_objects = "arn:${local.partition}:s3:::${local.alb_log_bucket}/alb/AWSLogs/${local.account_id}/*"

  # What the single image reads from its environment (hosting/single/runner.sh): generated into Secrets
  # Manager (terraform_data.credentials), injected from it. BB_ADMIN_USER_EMAIL is set, not generated.
  generated_secrets = toset([
    "JWT_SECRET", "INTERNAL_API_KEY", "API_ENCRYPTION_KEY", "ENCRYPTION_KEY", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY",
    "REDIS_PASSWORD", "COUCHDB_USER", "COUCHDB_PASSWORD", "BB_ADMIN_USER_PASSWORD",
  ])
  secret_names = setunion(local.generated_secrets, ["BB_ADMIN_USER_EMAIL"])
}

# -- secrets ------------------------------------------------------------------------------------------------

resource "aws_secretsmanager_secret" "budibase" {
  #checkov:skip=CKV2_AWS_57:The single image copies these values into /data/.env on first start and prefers that file afterwards; a rotated value would never reach Budibase, and the CouchDB, MinIO and Redis credentials live inside those stores.
  name                    = "${var.name_prefix}/budibase"
  description             = "Budibase's own credentials (JSON, one key per environment variable of the single image)."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.deletion_protection ? 30 : 0
}

# The values never pass through Terraform, so no state or plan holds them, and no role that reads the state
# or refreshes it (the plan roles) can read them: Secrets Manager generates each (letters and digits only:
# the image puts the CouchDB credentials into a URL) and the AWS CLI puts them, once, as the secret's first
# version, on the machine that applies (apply.yml's job, as the apply role). A new secret gets new values.
resource "terraform_data" "credentials" {
  triggers_replace = [aws_secretsmanager_secret.budibase.id]

  provisioner "local-exec" {
    interpreter = ["bash", "-c"]
    command     = <<-EOT
      set -euo pipefail
      json="{\"BB_ADMIN_USER_EMAIL\":\"$ADMIN_EMAIL\""
      for name in $GENERATED; do
        json+=",\"$name\":\"$(aws secretsmanager get-random-password --region "$REGION" --password-length 40 \
          --exclude-punctuation --require-each-included-type --query RandomPassword --output text)\""
      done
      aws secretsmanager put-secret-value --region "$REGION" --secret-id "$SECRET_ID" \
        --secret-string file:///dev/stdin --query VersionId --output text <<<"$json}"
    EOT
    environment = {
      SECRET_ID   = aws_secretsmanager_secret.budibase.arn
      REGION      = local.region
      GENERATED   = join(" ", sort(local.generated_secrets))
      ADMIN_EMAIL = var.admin_email
    }
  }
}

# -- logs ---------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "budibase" {
  name              = "/ecs/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# The ALB delivers access logs only to a bucket encrypted with SSE-S3.
module "alb_logs" {
  #checkov:skip=CKV_AWS_18:This bucket is the load balancer's access-log target; logging its own access would loop.
  #checkov:skip=CKV_AWS_144:Access logs are kept in-region; cross-region replication is a platform-wide decision.
  #checkov:skip=CKV_AWS_145:Elastic Load Balancing delivers access logs only to a bucket encrypted with SSE-S3, not SSE-KMS.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new access-log objects; they are read by auditors on demand.
  source           = "../bucket"
  name             = local.alb_log_bucket
  policy_documents = [data.aws_iam_policy_document.alb_log_delivery.json]

  lifecycle_rules = {
    "expire-alb-logs" = { expiration_days = var.log_retention_days, noncurrent_days = 1 }
  }
}

# Regions opened before August 2022 deliver as the region's Elastic Load Balancing account, later ones as
# the log delivery service: both may write this account's prefix, nothing else.
data "aws_iam_policy_document" "alb_log_delivery" {
  statement {
    sid       = "ElasticLoadBalancingDeliversAccessLogs"
    actions   = ["s3:PutObject"]
    resources = [local.alb_log_objects]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
  }

  statement {
    sid       = "LogDeliveryServiceDeliversAccessLogs"
    actions   = ["s3:PutObject"]
    resources = [local.alb_log_objects]
    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }
}

# -- network: the landing zone's VPC; three security groups, each admitting only the one before it ---------

resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "Budibase load balancer: HTTPS (and HTTP, redirected) from the corporate ranges"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = toset(var.allowed_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from the corporate range ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each          = toset(var.allowed_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from the corporate range ${each.value}, only to be redirected to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_task" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the Budibase task's nginx"
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  referenced_security_group_id = aws_security_group.task.id
}

resource "aws_security_group" "task" {
  name        = "${local.name}-task"
  description = "Budibase task: its port from the load balancer only; out to HTTPS and its data volume"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "task_from_alb" {
  #checkov:skip=CKV_AWS_260:The source is the load balancer's security group (referenced_security_group_id), not 0.0.0.0/0; checkov reads only CIDRs on this resource type.
  security_group_id            = aws_security_group.task.id
  description                  = "nginx of the single image, from the load balancer only"
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  referenced_security_group_id = aws_security_group.alb.id
}

# The ops API, Docker Hub, Secrets Manager and CloudWatch Logs have no fixed addresses: HTTPS anywhere,
# through the landing zone's egress (NAT, proxy or VPC endpoints).
resource "aws_vpc_security_group_egress_rule" "task_https" {
  security_group_id = aws_security_group.task.id
  description       = "HTTPS out: the ops API, the image registry, Secrets Manager, CloudWatch Logs, the OIDC issuer"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "task_to_efs" {
  security_group_id            = aws_security_group.task.id
  description                  = "NFS to the data volume's mount targets"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.efs.id
}

resource "aws_security_group" "efs" {
  name        = "${local.name}-efs"
  description = "Budibase data volume: NFS from the Budibase task only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_task" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from the Budibase task only"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.task.id
}

# -- the data volume: /data of the single image, and its backups --------------------------------------------

resource "aws_efs_file_system" "data" {
  creation_token   = "${local.name}-data"
  encrypted        = true
  kms_key_id       = var.kms_key_arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"

  tags = {
    Name = "${local.name}-data"
  }
}

# Backed up by this module's plan into its own KMS-encrypted vault (below), not by EFS's automatic backups
# into the default vault: one set of backups, one retention.
resource "aws_efs_backup_policy" "data" {
  file_system_id = aws_efs_file_system.data.id

  backup_policy {
    status = "DISABLED"
  }
}

resource "aws_efs_mount_target" "data" {
  for_each        = toset(var.private_subnet_ids)
  file_system_id  = aws_efs_file_system.data.id
  subnet_id       = each.value
  security_groups = [aws_security_group.efs.id]
}

# The task mounts this access point, never the file system's root. No user identity is enforced: the single
# image starts as root and hands its stores' folders to their own users (chown to couchdb, postgres), which
# an enforced identity would refuse; each process keeps its own uid, as on a local disk.
resource "aws_efs_access_point" "data" {
  #checkov:skip=CKV_AWS_330:The single image runs CouchDB, Redis, MinIO and Postgres as different users and chowns their folders at start; an enforced identity would make every file one user's and the chown fail.
  file_system_id = aws_efs_file_system.data.id

  root_directory {
    path = "/budibase"
    creation_info {
      owner_uid   = 0
      owner_gid   = 0
      permissions = "0755"
    }
  }

  tags = {
    Name = "${local.name}-data"
  }
}

# Only the Budibase task's role, through the access point, over TLS.
data "aws_iam_policy_document" "data" {
  statement {
    sid       = "OnlyTheBudibaseTaskThroughItsAccessPoint"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"]
    resources = [aws_efs_file_system.data.arn]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.task.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.data.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["*"]
    resources = [aws_efs_file_system.data.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_efs_file_system_policy" "data" {
  file_system_id = aws_efs_file_system.data.id
  policy         = data.aws_iam_policy_document.data.json
}

resource "aws_backup_vault" "budibase" {
  name        = local.name
  kms_key_arn = var.kms_key_arn
}

resource "aws_backup_plan" "budibase" {
  name = local.name

  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.budibase.name
    schedule          = "cron(0 3 * * ? *)" # 03:00 UTC, outside the team's working hours
    start_window      = 60
    completion_window = 360

    lifecycle {
      delete_after = var.backup_retention_days
    }
  }

  dynamic "rule" {
    for_each = var.weekly_backup_retention_days > 0 ? [var.weekly_backup_retention_days] : []
    content {
      rule_name         = "weekly"
      target_vault_name = aws_backup_vault.budibase.name
      schedule          = "cron(0 4 ? * SUN *)"
      start_window      = 60
      completion_window = 360

      lifecycle {
        delete_after = rule.value
      }
    }
  }
}

data "aws_iam_policy_document" "backup_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "backup" {
  name                 = "${local.name}-backup"
  assume_role_policy   = data.aws_iam_policy_document.backup_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

resource "aws_iam_role_policy_attachment" "backup" {
  for_each   = toset(["AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"])
  role       = aws_iam_role.backup.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/${each.value}"
}

resource "aws_backup_selection" "data" {
  name         = "${local.name}-data"
  plan_id      = aws_backup_plan.budibase.id
  iam_role_arn = aws_iam_role.backup.arn
  resources    = [aws_efs_file_system.data.arn]
}

# -- roles: the execution role reads the secret and writes the logs; the task role mounts the volume ---------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name                 = "${local.name}-execution"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "ReadBudibasesSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.budibase.arn]
  }

  statement {
    sid       = "DecryptItThroughSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "WriteTheContainersLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.budibase.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "read-secret-write-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# Nothing on the stack's tables, buckets or API: Budibase calls the ops API with the signed-in user's token.
resource "aws_iam_role" "task" {
  name                 = "${local.name}-task"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "MountTheDataVolumeThroughItsAccessPoint"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"]
    resources = [aws_efs_file_system.data.arn]
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.data.arn]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "mount-data-volume"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# -- the service: one task -----------------------------------------------------------------------------------

resource "aws_ecs_cluster" "budibase" {
  #checkov:skip=CKV_AWS_223:ECS Exec is off for the service (enable_execute_command = false): there are no exec sessions to log.
  #checkov:skip=CKV_AWS_224:ECS Exec is off for the service (enable_execute_command = false): there are no exec session logs to encrypt.
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

# The one container. Its credentials come from the secret through `secrets`, never `environment`.
locals {
  container = {
    name         = local.container_name
    image        = "budibase/budibase:${var.image_version}"
    essential    = true
    portMappings = [{ containerPort = local.container_port, protocol = "tcp" }]
    mountPoints  = [{ sourceVolume = "data", containerPath = local.data_path, readOnly = false }]
    environment = [
      { name = "PLATFORM_URL", value = local.url },
      { name = "ENABLE_ANALYTICS", value = "false" },
    ]
    secrets = [for name in sort(local.secret_names) : {
      name      = name
      valueFrom = "${aws_secretsmanager_secret.budibase.arn}:${name}::"
    }]
    healthCheck = {
      command     = ["CMD-SHELL", "curl -fs http://localhost/health || exit 1"]
      interval    = 30
      timeout     = 10
      retries     = 3
      startPeriod = 300
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.budibase.name
        awslogs-region        = local.region
        awslogs-stream-prefix = local.container_name
      }
    }
  }
}

resource "aws_ecs_task_definition" "budibase" {
  #checkov:skip=CKV_AWS_336:The single image writes its configuration at start (nginx templates, the .env links under /app and /worker): its root filesystem cannot be read-only.
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "data"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.data.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.data.id
        iam             = "ENABLED"
      }
    }
  }

  container_definitions = jsonencode([local.container])
}

# One task, never two: CouchDB, Redis and MinIO inside the image each assume they own /data. A deployment
# stops the old task before it starts the new one (minimum healthy 0%, maximum 100%).
resource "aws_ecs_service" "budibase" {
  name                               = local.name
  cluster                            = aws_ecs_cluster.budibase.id
  task_definition                    = aws_ecs_task_definition.budibase.arn
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  desired_count                      = 1
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100
  health_check_grace_period_seconds  = 300
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.budibase.arn
    container_name   = local.container_name
    container_port   = local.container_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.https, aws_efs_mount_target.data, aws_efs_file_system_policy.data, terraform_data.credentials]
}

# -- the load balancer and its firewall ---------------------------------------------------------------------

resource "aws_lb" "budibase" {
  name                       = local.name
  load_balancer_type         = "application"
  internal                   = var.internal
  subnets                    = var.internal ? var.private_subnet_ids : var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  access_logs {
    bucket  = module.alb_logs.name
    prefix  = "alb"
    enabled = true
  }

  lifecycle {
    precondition {
      condition     = var.internal || length(var.public_subnet_ids) >= 2
      error_message = "An internet-facing load balancer needs at least two public subnets (public_subnet_ids), or set internal."
    }
  }

  depends_on = [module.alb_logs] # the bucket policy must let the load balancer write before it is created
}

# TLS ends at the load balancer; inside the VPC it speaks HTTP to the image's nginx, which serves no TLS.
resource "aws_lb_target_group" "budibase" {
  #checkov:skip=CKV_AWS_378:The single image's nginx listens on HTTP only; TLS ends at the load balancer and the hop stays inside the private subnets.
  name                 = local.name
  port                 = local.container_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = "/health" # the image's nginx proxies it to the worker's health endpoint
    matcher             = "200"
    interval            = 30
    timeout             = 10
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.budibase.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.budibase.arn
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.budibase.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_wafv2_web_acl" "budibase" {
  name        = local.name
  description = "Budibase: AWS managed rules (common, known bad inputs incl. Log4j, IP reputation)"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "AWSManagedRulesCommonRuleSet"
    priority = 1
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"
        # The builder saves whole app definitions and uploads files: bodies above 8 KB are counted, not blocked.
        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 2
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "AWSManagedRulesAmazonIpReputationList"
    priority = 3
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesAmazonIpReputationList"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-ip-reputation"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = local.name
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "budibase" {
  resource_arn = aws_lb.budibase.arn
  web_acl_arn  = aws_wafv2_web_acl.budibase.arn
}

# WAF writes only to log groups named aws-waf-logs-*. Tokens and session cookies are redacted.
resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_wafv2_web_acl_logging_configuration" "budibase" {
  resource_arn            = aws_wafv2_web_acl.budibase.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  redacted_fields {
    single_header {
      name = "cookie"
    }
  }
}

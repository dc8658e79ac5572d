# The Lambda functions: one container image (functions/Dockerfile: the complaints core, numpy and the model
# versions pinned by hash, no torch), one handler per function, one role per function with only what that
# handler touches. Handlers read the environment set here; tests/test_infra.py checks every handler named
# in `command` exists and reads no variable that is not set.

data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  store_url = "dynamodb://${var.table_prefix}?region=${data.aws_region.current.name}"

  common_environment = {
    COMPLAINTS_REGISTRY_URL = "file:///opt/models" # the versions baked into the image, verified by hash on load
    COMPLAINTS_LOG_LEVEL    = var.log_level
    COMPLAINTS_ENVIRONMENT  = var.environment # the metrics' namespace and dimension (complaints/metrics.py)
  }

  # Where triage and manual triage leave each chunk's counts: <chunk prefix><execution>/reports/ (an S3
  # policy's "*" matches across "/", so this is every execution's reports folder and nothing else).
  report_prefix = "${var.chunk_prefix}*/reports/"

  # Store tables the pipeline touches, with the calls it makes on each (complaints/pipeline.py). A resend over a
  # complaint a stopped run stored and never allocated is one transaction: the complaint put, conditional on a
  # check that no allocation exists.
  pipeline_tables = {
    model_strategy        = ["dynamodb:GetItem"]
    raw_complaints        = ["dynamodb:GetItem", "dynamodb:PutItem"]
    complaints_allocation = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"]
    rejected_rows         = ["dynamodb:PutItem"]
  }

  functions = {
    intake = {
      command     = "functions.intake.handler"
      description = "Validate a batch file from the inbox and write its chunks"
      # Redaction (spaCy's recogniser) runs at about 80 complaints/s on one full vCPU (1,769 MB): Lambda's
      # longest timeout covers a day at peak (15,000) in one file with room to spare.
      memory_mb   = 1769
      timeout_s   = 900
      concurrency = var.reserved_concurrency["intake"]
      environment = {
        COMPLAINTS_CHUNK_PREFIX = var.chunk_prefix
        COMPLAINTS_CHUNK_SIZE   = tostring(var.chunk_size)
      }
      s3_read  = [var.inbox_prefix]
      s3_write = [var.chunk_prefix]
      s3_list  = []
      tables   = {}
    }
    triage = {
      command     = "functions.triage.handler"
      description = "Triage one chunk with the core pipeline"
      memory_mb   = var.triage_memory_mb
      timeout_s   = 300
      concurrency = var.reserved_concurrency["triage"]
      environment = { COMPLAINTS_STORE_URL = local.store_url }
      s3_read     = [var.chunk_prefix]
      s3_write    = [local.report_prefix]
      s3_list     = []
      tables      = local.pipeline_tables
    }
    manual_triage = {
      command     = "functions.manual_triage.handler"
      description = "Send the complaints of a chunk whose triage failed to manual triage"
      memory_mb   = 512
      timeout_s   = 300
      concurrency = var.reserved_concurrency["manual_triage"]
      environment = { COMPLAINTS_STORE_URL = local.store_url }
      s3_read     = [var.chunk_prefix]
      s3_write    = [local.report_prefix]
      s3_list     = []
      tables      = local.pipeline_tables
    }
    submit = {
      command     = "functions.submit.handler"
      description = "HTTP API: store a posted batch of complaints in the inbox"
      memory_mb   = 512
      timeout_s   = 29
      concurrency = var.reserved_concurrency["submit"]
      environment = {
        COMPLAINTS_BATCH_BUCKET = var.batch_bucket_name
        COMPLAINTS_INBOX_PREFIX = var.inbox_prefix
      }
      s3_read  = []
      s3_write = ["${var.inbox_prefix}api/"]
      s3_list  = []
      tables   = {}
    }
    ops_api = {
      command     = "functions.ops_api.handler"
      description = "The ops API (ops_api/) behind API Gateway: queues, complaints, corrections, the audit chain"
      memory_mb   = 1024
      timeout_s   = 29 # API Gateway's own limit
      concurrency = var.reserved_concurrency["ops_api"]
      # The app verifies each Cognito access token itself (ops_api/cognito.py); the JWKS is fetched over the
      # internet at run time (no VPC), cached per container.
      environment = {
        COMPLAINTS_STORE_URL          = local.store_url
        COMPLAINTS_COGNITO_ISSUER     = var.cognito_issuer
        COMPLAINTS_COGNITO_JWKS_URL   = "${var.cognito_issuer}/.well-known/jwks.json"
        COMPLAINTS_COGNITO_CLIENT_IDS = join(",", var.cognito_client_ids)
      }
      s3_read  = []
      s3_write = []
      s3_list  = []
      # What the ops API reads and writes (complaints/access.py, queues.py, feedback.py, audit.py, explanations.py,
      # monitoring.py).
      # It computes no explanation (no SHAP in the image): it reads the kept ones and never writes one. A
      # correction is one transaction: the feedback item and the allocation's queue and revision. No Scan: no
      # request reads a whole table.
      tables = {
        users                 = ["dynamodb:GetItem"]
        raw_complaints        = ["dynamodb:GetItem"]
        complaints_allocation = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"] # a correction moves it
        allocation_history    = ["dynamodb:Query"]
        feedback              = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"] # by complaint, by analyst
        audit_log             = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
        explanations          = ["dynamodb:GetItem", "dynamodb:Query"]
        model_info            = ["dynamodb:GetItem"]
        model_strategy        = ["dynamodb:GetItem"] # the serving versions, for the model health (GET /monitoring)
        gate_decisions        = ["dynamodb:Query"]
        releases              = ["dynamodb:Query"]
        triage_batches        = ["dynamodb:GetItem"]
      }
    }
    reconcile = {
      command     = "functions.reconcile.handler"
      description = "Fold the chunk reports of a batch, check they add up to the rows read, record the batch"
      memory_mb   = 512
      timeout_s   = 300
      concurrency = var.reserved_concurrency["reconcile"]
      environment = { COMPLAINTS_STORE_URL = local.store_url }
      s3_read     = [var.chunk_prefix]
      s3_write    = []
      s3_list     = [local.report_prefix]
      # The batch's record (complaints/pipeline.py): a later run of the batch is appended to it, read first.
      tables = { triage_batches = ["dynamodb:GetItem", "dynamodb:PutItem"] }
    }
  }
}

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions

  name              = "/aws/lambda/${var.name_prefix}-${replace(each.key, "_", "-")}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name                 = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  statement {
    sid       = "WriteItsOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  statement {
    sid       = "DecryptItsEnvironmentAndData"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "EncryptWritesThroughS3AndDynamoDB"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com", "dynamodb.${data.aws_region.current.name}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_read) == 0 ? [] : [each.value.s3_read]
    content {
      sid       = "ReadBatchObjects"
      actions   = ["s3:GetObject"]
      resources = [for prefix in statement.value : "${var.batch_bucket_arn}/${prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_write) == 0 ? [] : [each.value.s3_write]
    content {
      sid       = "WriteBatchObjects"
      actions   = ["s3:PutObject"]
      resources = [for prefix in statement.value : "${var.batch_bucket_arn}/${prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_list) == 0 ? [] : [each.value.s3_list]
    content {
      sid       = "ListBatchObjects"
      actions   = ["s3:ListBucket"]
      resources = [var.batch_bucket_arn]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [for prefix in statement.value : "${prefix}*"]
      }
    }
  }

  dynamic "statement" {
    for_each = each.value.tables
    content {
      sid     = "Store${replace(title(replace(statement.key, "_", " ")), " ", "")}"
      actions = statement.value
      # a Query may read the table's indexes (the queues by_queue, the audit log by_time)
      resources = contains(statement.value, "dynamodb:Query") ? [var.table_arns[statement.key], "${var.table_arns[statement.key]}/index/*"] : [var.table_arns[statement.key]]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name   = "least-privilege"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_iam_role_policy_attachment" "xray" {
  for_each = local.functions

  role       = aws_iam_role.function[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously (Step Functions, API Gateway); failures are caught by the state machine's Retry/Catch and parked in its dead-letter queue, or returned to the API caller. A Lambda DLQ only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:The functions call only AWS APIs (S3, DynamoDB) over TLS with IAM; no resource lives in a VPC. A VPC would need interface endpoints in every AZ for no gain in isolation.
  #checkov:skip=CKV_AWS_272:Lambda code signing applies to .zip packages only; the image is pinned by its sha256 digest in a private, immutable-tag ECR repository.
  for_each = local.functions

  function_name                  = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  description                    = each.value.description
  role                           = aws_iam_role.function[each.key].arn
  package_type                   = "Image"
  image_uri                      = var.image_uri
  architectures                  = [var.architecture]
  memory_size                    = each.value.memory_mb
  timeout                        = each.value.timeout_s
  reserved_concurrent_executions = each.value.concurrency
  kms_key_arn                    = var.kms_key_arn

  image_config {
    command = [each.value.command]
  }

  environment {
    variables = merge(local.common_environment, each.value.environment)
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text" # the handlers already write one JSON object per line (complaints/logs.py)
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy_attachment.xray]
}

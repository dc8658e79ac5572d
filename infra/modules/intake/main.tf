# How complaints arrive. Every batch, however it comes, is an object under inbox/ in the batch bucket:
#   - systems that export files (the daily CFPB-format export, partner drops) put CSV or JSON lines there;
#   - systems that submit as complaints come in POST them to the HTTP API, whose function writes the body
#     under inbox/api/.
# S3 announces each new object to EventBridge; a rule starts one state machine execution per object.
# An event EventBridge cannot deliver (after 24 hours of retries) goes to the dead-letter queue.

data "aws_caller_identity" "current" {}

locals {
  bucket_name = "${var.name_prefix}-batches-${data.aws_caller_identity.current.account_id}"
}

# -- the batch bucket, and the bucket its S3 server access logs go to ------------------------------------

module "batches" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery decision for the bank's platform team; batches are re-sendable and the store has point-in-time recovery.
  source         = "../bucket"
  name           = local.bucket_name
  kms_key_arn    = var.kms_key_arn
  access_logging = { bucket = module.access_logs.name, prefix = "batches/" }
  eventbridge    = true

  lifecycle_rules = {
    "keep-received-batches" = {
      prefix          = var.inbox_prefix
      expiration_days = var.batch_retention_days
      noncurrent_days = 30
    }
    "drop-old-chunks" = {
      prefix          = var.chunk_prefix
      expiration_days = var.chunk_retention_days
      noncurrent_days = 1
    }
  }
}

module "access_logs" {
  #checkov:skip=CKV_AWS_18:This bucket is the access-log target; logging it into itself would loop.
  #checkov:skip=CKV_AWS_144:Access logs are kept in-region; cross-region replication is a platform-wide decision.
  #checkov:skip=CKV_AWS_145:S3 server access logs can only be delivered to a bucket encrypted with SSE-S3, not SSE-KMS.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new access-log objects; they are read by auditors on demand.
  source           = "../bucket"
  name             = "${local.bucket_name}-access-logs"
  policy_documents = [data.aws_iam_policy_document.access_log_delivery.json]

  lifecycle_rules = {
    "expire-access-logs" = { expiration_days = var.batch_retention_days, noncurrent_days = 1 }
  }
}

data "aws_iam_policy_document" "access_log_delivery" {
  statement {
    sid       = "S3DeliversAccessLogsOfTheBatchBucket"
    actions   = ["s3:PutObject"]
    resources = ["${module.access_logs.arn}/batches/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [module.batches.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# -- EventBridge: one execution per new batch object ----------------------------------------------------

resource "aws_cloudwatch_event_rule" "batch_received" {
  name        = "${var.name_prefix}-batch-received"
  description = "A batch file arrived under ${var.inbox_prefix} in ${local.bucket_name}"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [module.batches.name] }
      object = { key = [{ prefix = var.inbox_prefix }] }
    }
  })
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "events" {
  name                 = "${var.name_prefix}-start-triage"
  assume_role_policy   = data.aws_iam_policy_document.events_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "events" {
  statement {
    sid       = "StartTriageExecutions"
    actions   = ["states:StartExecution"]
    resources = [var.state_machine_arn]
  }

  # The state machine is encrypted with the environment's key: Step Functions encrypts an execution's input
  # with it on behalf of whoever calls StartExecution, so that caller needs the key too, and only for this
  # state machine (the encryption context Step Functions sets). See README.md, "Starting an execution".
  statement {
    sid       = "EncryptTheExecutionInput"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:states:stateMachineArn"
      values   = [var.state_machine_arn]
    }
  }
}

resource "aws_iam_role_policy" "events" {
  name   = "start-triage"
  role   = aws_iam_role.events.id
  policy = data.aws_iam_policy_document.events.json
}

resource "aws_cloudwatch_event_target" "start_triage" {
  rule     = aws_cloudwatch_event_rule.batch_received.name
  arn      = var.state_machine_arn
  role_arn = aws_iam_role.events.arn

  # The state machine's input is just the object: {"bucket": ..., "key": ...}.
  input_transformer {
    input_paths = {
      bucket = "$.detail.bucket.name"
      key    = "$.detail.object.key"
    }
    input_template = "{\"bucket\": <bucket>, \"key\": <key>}"
  }

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = var.dead_letter_queue_arn
  }
}

data "aws_iam_policy_document" "dead_letter" {
  statement {
    sid       = "EventBridgeParksUndeliveredBatchEvents"
    actions   = ["sqs:SendMessage"]
    resources = [var.dead_letter_queue_arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.batch_received.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = var.dead_letter_queue_url
  policy    = data.aws_iam_policy_document.dead_letter.json
}

# -- the HTTP API: POST /batches, signed with SigV4 by the calling system's IAM role ---------------------

resource "aws_apigatewayv2_api" "intake" {
  name          = "${var.name_prefix}-intake"
  protocol_type = "HTTP"
  description   = "Submit a batch of complaints (CSV or JSON lines); it is triaged like any batch file."
}

resource "aws_cloudwatch_log_group" "api" {
  name              = "/aws/vendedlogs/apigateway/${var.name_prefix}-intake"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.intake.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.api_burst_limit
    throttling_rate_limit  = var.api_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId        = "$context.requestId"
      ip               = "$context.identity.sourceIp"
      caller           = "$context.identity.caller"
      requestTime      = "$context.requestTime"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      responseLength   = "$context.responseLength"
      integrationError = "$context.integrationErrorMessage"
    })
  }
}

resource "aws_apigatewayv2_integration" "submit" {
  api_id                 = aws_apigatewayv2_api.intake.id
  integration_type       = "AWS_PROXY"
  integration_uri        = var.submit_function_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "submit" {
  api_id             = aws_apigatewayv2_api.intake.id
  route_key          = "POST /batches"
  target             = "integrations/${aws_apigatewayv2_integration.submit.id}"
  authorization_type = "AWS_IAM"
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowTheIntakeApi"
  action        = "lambda:InvokeFunction"
  function_name = var.submit_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.intake.execution_arn}/*/*/batches"
}

# The triage state machine. Its definition is triage.asl.json, loaded with templatefile so the file the
# tests execute on moto is the file deployed here.
#
# Standard, not Express: a batch must be triaged exactly once per execution (Express is at-least-once),
# the execution history is kept 90 days for auditors, a large batch may run longer than Express's 5
# minutes, and at a few transitions per chunk of 100 complaints the per-transition price is cents a day.

data "aws_region" "current" {}
data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  invoked_functions = ["intake", "triage", "manual_triage", "reconcile"]
  # Built from the name, not the resource: the role's policy must exist before the state machine does.
  state_machine_name = "${var.name_prefix}-triage"
  state_machine_arn  = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:${local.state_machine_name}"
  execution_arns     = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:execution:${local.state_machine_name}/*"
}

resource "aws_sqs_queue" "dead_letter" {
  name                              = "${var.name_prefix}-dead-letter"
  message_retention_seconds         = 1209600 # 14 days, the SQS maximum: time for a person to re-drive
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_cloudwatch_log_group" "state_machine" {
  name              = "/aws/vendedlogs/states/${var.name_prefix}-triage"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name                 = "${var.name_prefix}-triage-state-machine"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "state_machine" {
  statement {
    sid       = "InvokeTheTriageFunctions"
    actions   = ["lambda:InvokeFunction"]
    resources = flatten([for name in local.invoked_functions : [var.function_arns[name], "${var.function_arns[name]}:*"]])
  }

  # The distributed Map runs each chunk as a child execution of this state machine and reads the list of
  # chunks Intake wrote (docs: "IAM policies for using Distributed Map states").
  statement {
    sid       = "RunTheMapsChildExecutions"
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }

  statement {
    sid       = "WatchAndStopTheMapsChildExecutions"
    actions   = ["states:DescribeExecution", "states:StopExecution"]
    resources = [local.execution_arns]
  }

  statement {
    sid       = "ReadTheChunkLists"
    actions   = ["s3:GetObject"]
    resources = ["${var.batch_bucket_arn}/${var.chunk_prefix}*/chunks.json"]
  }

  statement {
    sid       = "ParkWorkInTheDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }

  statement {
    sid       = "UseTheDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

data "aws_iam_policy_document" "delivery" {
  #checkov:skip=CKV_AWS_111:CloudWatch Logs delivery and X-Ray APIs do not support resource-level permissions (AWS documents Resource "*" for Step Functions logging and tracing).
  #checkov:skip=CKV_AWS_356:CloudWatch Logs delivery and X-Ray APIs do not support resource-level permissions (AWS documents Resource "*" for Step Functions logging and tracing).
  statement {
    sid = "DeliverExecutionLogs"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "least-privilege"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

resource "aws_iam_role_policy" "delivery" {
  name   = "logs-and-traces"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.delivery.json
}

resource "aws_sfn_state_machine" "triage" {
  name     = local.state_machine_name
  type     = "STANDARD"
  role_arn = aws_iam_role.state_machine.arn
  definition = templatefile("${path.module}/triage.asl.json", {
    intake_function_arn        = var.function_arns["intake"]
    triage_function_arn        = var.function_arns["triage"]
    manual_triage_function_arn = var.function_arns["manual_triage"]
    reconcile_function_arn     = var.function_arns["reconcile"]
    dead_letter_queue_url      = aws_sqs_queue.dead_letter.url
    triage_concurrency         = var.triage_concurrency
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = true # state payloads hold S3 keys and counts, never a narrative
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  encryption_configuration {
    type                              = "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = var.kms_key_arn
    kms_data_key_reuse_period_seconds = 300
  }

  # The provider's default_tags carry the release too; these make the state machine self-describing even
  # where default tags are not shown (e.g. the Step Functions console).
  tags = var.release_tags

  depends_on = [aws_iam_role_policy.state_machine, aws_iam_role_policy.delivery]
}

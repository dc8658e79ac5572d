# What calls a person: failed or timed-out executions, work parked in the dead-letter queue, function
# errors and throttles, store throttling, API server errors, a share of manual triage far above normal
# (e.g. a strategy naming a model version the image does not carry sends everything to people), a specialist
# queue over its capacity, and analysts correcting more of a task's answers than the models were accepted for.

locals {
  namespace  = "Complaints/${var.environment}" # complaints/metrics.py writes there
  dimensions = { Environment = var.environment }
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "executions_failed" {
  for_each = {
    ExecutionsFailed   = "an execution failed: a batch was refused whole or could not be cut into chunks (see the dead-letter queue)"
    ExecutionsTimedOut = "an execution timed out"
    ExecutionThrottled = "Step Functions throttled the state machine"
  }

  alarm_name          = "${var.name_prefix}-triage-${each.key}"
  alarm_description   = "Triage state machine: ${each.value}."
  namespace           = "AWS/States"
  metric_name         = each.key
  dimensions          = { StateMachineArn = var.state_machine_arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "dead_letter" {
  alarm_name          = "${var.name_prefix}-dead-letter-not-empty"
  alarm_description   = "Work is parked in ${var.dead_letter_queue_name}: a batch or chunk nobody could triage. Read the message, fix the cause, re-send the batch file."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.dead_letter_queue_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = merge([
    for name, function in var.function_names : {
      "${name}-Errors"    = { function = function, metric = "Errors" }
      "${name}-Throttles" = { function = function, metric = "Throttles" }
    }
  ]...)

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = "Lambda ${each.value.function}: ${each.value.metric} in the last 5 minutes (the state machine retries; this says it had to)."
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = each.value.function }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "store_throttled" {
  for_each = { for name in ["raw_complaints", "complaints_allocation"] : name => var.table_names[name] }

  alarm_name          = "${var.name_prefix}-${each.key}-throttled"
  alarm_description   = "DynamoDB throttled writes to ${each.value}; lower the triage concurrency or raise the table's on-demand maximum."
  namespace           = "AWS/DynamoDB"
  metric_name         = "WriteThrottleEvents"
  dimensions          = { TableName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "api_errors" {
  alarm_name          = "${var.name_prefix}-intake-api-5xx"
  alarm_description   = "The intake API answered with server errors."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = var.api_id, Stage = "$default" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

# The models' work, as the reconcile function (each batch) and the ops API (each correction of a model's answer)
# write it in CloudWatch's embedded metric format (complaints/metrics.py): figures under Complaints/<environment>
# with the dimension Environment, corrections also by Task. A share is a sum over a sum, never a mean of shares.
resource "aws_cloudwatch_metric_alarm" "manual_triage_share" {
  alarm_name          = "${var.name_prefix}-manual-triage-share"
  alarm_description   = "More than ${var.max_manual_triage_share * 100}% of the last hour's complaints went to manual triage (usual: about 45%). Check the model strategy and the image's models.json."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_manual_triage_share
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "share"
    expression  = "IF(complaints > 0, manual / complaints, 0)"
    label       = "Share of complaints sent to manual triage"
    return_data = true
  }

  metric_query {
    id = "manual"
    metric {
      namespace   = local.namespace
      metric_name = "ManualTriage"
      dimensions  = local.dimensions
      period      = 3600
      stat        = "Sum"
    }
  }

  metric_query {
    id = "complaints"
    metric {
      namespace   = local.namespace
      metric_name = "Complaints"
      dimensions  = local.dimensions
      period      = 3600
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "specialist_load" {
  alarm_name          = "${var.name_prefix}-specialist-load"
  alarm_description   = "The models sent more than ${var.specialist_capacity * 100}% of the last day's complaints to the specialist queue, its capacity (complaints/config/operations.yaml; usual: about 16%). The vulnerable flag is over-flagging: check its version and threshold, and tell the specialists' lead."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.specialist_capacity
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "share"
    expression  = "IF(complaints > 0, specialist / complaints, 0)"
    label       = "Share of complaints sent to the specialist queue"
    return_data = true
  }

  metric_query {
    id = "specialist"
    metric {
      namespace   = local.namespace
      metric_name = "SpecialistQueue"
      dimensions  = local.dimensions
      period      = 86400
      stat        = "Sum"
    }
  }

  metric_query {
    id = "complaints"
    metric {
      namespace   = local.namespace
      metric_name = "Complaints"
      dimensions  = local.dimensions
      period      = 86400
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "correction_rate" {
  for_each = var.max_correction_rate

  alarm_name          = "${var.name_prefix}-${each.key}-correction-rate"
  alarm_description   = "In the last day, analysts corrected the ${each.key} of more than ${each.value * 100}% of the complaints the models allocated. Read the model health (GET /monitoring) and consider a retrain."
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "rate"
    expression  = "IF(allocated > 0, corrections / allocated, 0)"
    label       = "Corrections of the models' ${each.key} per complaint they allocated"
    return_data = true
  }

  metric_query {
    id = "corrections"
    metric {
      namespace   = local.namespace
      metric_name = "Corrections"
      dimensions  = merge(local.dimensions, { Task = each.key })
      period      = 86400
      stat        = "Sum"
    }
  }

  metric_query {
    id = "allocated"
    metric {
      namespace   = local.namespace
      metric_name = "Allocated"
      dimensions  = local.dimensions
      period      = 86400
      stat        = "Sum"
    }
  }
}

# The store's tables, one per SQLite table of the embedded default, as complaints/store/tables.py declares
# them (tests/test_infra.py holds the two to each other; the tests' moto tables are made from this file).
# Items are the key attributes plus the whole record as a JSON "body", so only key attributes are declared here.

locals {
  tables = {
    raw_complaints = {
      hash_key   = "complaint_id"
      range_key  = null
      attributes = { complaint_id = "S" }
      index      = null
    }
    complaints_allocation = {
      hash_key   = "complaint_id"
      range_key  = null
      attributes = { complaint_id = "S", queue = "S", allocated_at = "S" }
      index      = { name = "by_queue", hash_key = "queue", range_key = "allocated_at" }
    }
    model_info = {
      hash_key   = "task"
      range_key  = "version"
      attributes = { task = "S", version = "S" }
      index      = null
    }
    model_strategy = {
      hash_key   = "task"
      range_key  = null
      attributes = { task = "S" }
      index      = null
    }
    allocation_history = {
      hash_key   = "complaint_id"
      range_key  = "allocated_at"
      attributes = { complaint_id = "S", allocated_at = "S" }
      index      = null
    }
    feedback = {
      hash_key   = "complaint_id"
      range_key  = "idempotency_key"
      attributes = { complaint_id = "S", idempotency_key = "S", analyst = "S", at = "S" }
      index      = { name = "by_analyst", hash_key = "analyst", range_key = "at" }
    }
    rejected_rows = {
      hash_key   = "batch_id"
      range_key  = "row_number"
      attributes = { batch_id = "S", row_number = "N" }
      index      = null
    }
    triage_batches = {
      hash_key   = "batch_id"
      range_key  = null
      attributes = { batch_id = "S" }
      index      = null
    }
    audit_log = {
      hash_key   = "event_id"
      range_key  = null
      attributes = { event_id = "S", log = "S", at_event = "S" }
      index      = { name = "by_time", hash_key = "log", range_key = "at_event" }
    }
    gate_decisions = {
      hash_key   = "task"
      range_key  = "challenger_champion"
      attributes = { task = "S", challenger_champion = "S" }
      index      = null
    }
    releases = {
      hash_key   = "environment"
      range_key  = "applied_release"
      attributes = { environment = "S", applied_release = "S" }
      index      = null
    }
    users = {
      hash_key   = "username"
      range_key  = null
      attributes = { username = "S" }
      index      = null
    }
    explanations = {
      hash_key   = "complaint_id"
      range_key  = "task_version"
      attributes = { complaint_id = "S", task_version = "S" }
      index      = null
    }
  }
}

resource "aws_dynamodb_table" "this" {
  for_each = local.tables

  name                        = "${var.table_prefix}-${each.key}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = each.value.hash_key
  range_key                   = each.value.range_key
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = each.value.attributes
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  dynamic "global_secondary_index" {
    for_each = each.value.index == null ? [] : [each.value.index]
    content {
      name            = global_secondary_index.value.name
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = "ALL"
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name, e.g. complaints-prod."
  type        = string
}

variable "function_arns" {
  description = "Function ARN by handler name (module functions): intake, triage, manual_triage and reconcile are invoked."
  type        = map(string)
}

variable "triage_concurrency" {
  description = "Chunks triaged at a time: the triage function's reserved concurrency, so one batch is never throttled by its own Map."
  type        = number
}

variable "batch_bucket_arn" {
  description = "ARN of the bucket of batch files (module intake): the Map reads the list of chunks from it."
  type        = string
}

variable "chunk_prefix" {
  description = "Key prefix where intake writes the chunks of a batch (module intake)."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's key (module key)."
  type        = string
}

variable "release_tags" {
  description = "The release's tags (git sha, model versions, environment), set on the state machine explicitly."
  type        = map(string)
}

variable "log_retention_days" {
  description = "Days the execution logs are kept."
  type        = number
  default     = 365
}

variable "permissions_boundary_arn" {
  description = "infra/bootstrap's permissions boundary of the environment (complaints-<env>-role-boundary): every role of this module carries it, and the apply role may create no role without it."
  type        = string
}

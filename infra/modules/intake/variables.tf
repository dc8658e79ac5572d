variable "name_prefix" {
  description = "Prefix of every resource name, e.g. complaints-prod."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's key (module key)."
  type        = string
}

variable "inbox_prefix" {
  description = "Key prefix where batch files arrive; each new object starts one execution."
  type        = string
  default     = "inbox/"
}

variable "chunk_prefix" {
  description = "Key prefix where intake writes chunks (short-lived)."
  type        = string
  default     = "chunks/"
}

variable "batch_retention_days" {
  description = "Days received batch files (and access logs) are kept."
  type        = number
  default     = 400
}

variable "chunk_retention_days" {
  description = "Days chunks are kept (long enough to re-drive a parked chunk)."
  type        = number
  default     = 14
}

variable "state_machine_arn" {
  description = "The triage state machine (module orchestration)."
  type        = string
}

variable "dead_letter_queue_arn" {
  description = "Dead-letter queue for undeliverable batch events (module orchestration)."
  type        = string
}

variable "dead_letter_queue_url" {
  description = "URL of the dead-letter queue (module orchestration)."
  type        = string
}

variable "submit_function_arn" {
  description = "ARN of the submit function (module functions)."
  type        = string
}

variable "submit_function_name" {
  description = "Name of the submit function (module functions)."
  type        = string
}

variable "api_rate_limit" {
  description = "Steady requests per second the API accepts."
  type        = number
  default     = 20
}

variable "api_burst_limit" {
  description = "Burst of requests the API accepts."
  type        = number
  default     = 50
}

variable "log_retention_days" {
  description = "Days the API access logs are kept."
  type        = number
  default     = 365
}

variable "permissions_boundary_arn" {
  description = "infra/bootstrap's permissions boundary of the environment (complaints-<env>-role-boundary): every role of this module carries it, and the apply role may create no role without it."
  type        = string
}

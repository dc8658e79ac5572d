variable "name_prefix" {
  description = "Prefix of every resource name, e.g. complaints-prod."
  type        = string
}

variable "function_arns" {
  description = "Function ARN by handler name (module functions): intake, triage and manual_triage are invoked."
  type        = map(string)
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

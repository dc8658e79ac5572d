variable "name_prefix" {
  description = "Prefix of every resource name, e.g. complaints-prod."
  type        = string
}

variable "environment" {
  description = "dev or prod: the models' metrics are under Complaints/<environment>, dimension Environment (complaints/metrics.py)."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's key (module key): encrypts the alarm topic."
  type        = string
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each confirms by e-mail)."
  type        = list(string)
  default     = []
}

variable "state_machine_arn" {
  description = "The triage state machine (module orchestration)."
  type        = string
}

variable "dead_letter_queue_name" {
  description = "The dead-letter queue (module orchestration)."
  type        = string
}

variable "function_names" {
  description = "Function name by handler name (module functions)."
  type        = map(string)
}

variable "table_names" {
  description = "Table name by store table name (module store)."
  type        = map(string)
}

variable "api_id" {
  description = "The intake API (module intake)."
  type        = string
}

variable "max_manual_triage_share" {
  description = "Alarm when more than this share of an hour's complaints goes to manual triage."
  type        = number
  default     = 0.6
}

variable "specialist_capacity" {
  description = "Alarm when the models send more than this share of a day's complaints to the specialist queue: its capacity (complaints/config/operations.yaml)."
  type        = number
  default     = 0.3
}

variable "max_correction_rate" {
  description = "Per task: alarm when analysts correct more than this share of a day's model-allocated complaints (README: why each default)."
  type        = map(number)
  default     = { team = 0.25, issue = 0.34, vulnerable = 0.4 }
}

variable "name_prefix" {
  description = "Prefix of every resource name, e.g. complaints-prod."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Days a scheduled key deletion waits (7-30): the tables cannot be read without the key."
  type        = number
  default     = 30
}

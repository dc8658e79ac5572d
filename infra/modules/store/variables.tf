variable "table_prefix" {
  description = "Tables are named <table_prefix>-<table>; the store URL is dynamodb://<table_prefix>?region=<region>."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer managed key that encrypts the tables."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to delete a table (turn off only to tear down a dev environment)."
  type        = bool
  default     = true
}

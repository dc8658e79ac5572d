variable "name_prefix" {
  description = "Prefix of every resource name, e.g. complaints-prod."
  type        = string
}

variable "function_arn" {
  description = "ARN of the ops_api function (module functions)."
  type        = string
}

variable "function_name" {
  description = "Name of the ops_api function (module functions)."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's key: encrypts the API's access logs."
  type        = string
}

variable "allowed_origins" {
  description = "Origins whose browsers may call the API (the ops app's URL); empty: none."
  type        = list(string)
  default     = []
}

variable "rate_limit" {
  description = "Steady requests per second the ops API accepts."
  type        = number
  default     = 50
}

variable "burst_limit" {
  description = "Burst of requests the ops API accepts."
  type        = number
  default     = 100
}

variable "deletion_protection" {
  description = "Refuse to delete the user pool."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days the API's access logs are kept."
  type        = number
  default     = 365
}

variable "budibase_url" {
  description = "https://<domain> of the self-hosted Budibase (module budibase): adds its OpenID Connect client, the hosted sign-in domain and the client's secret; null: none."
  type        = string
  default     = null

  validation {
    condition     = var.budibase_url == null || can(regex("^https://[^/]+$", var.budibase_url))
    error_message = "budibase_url is https://<domain>, without a path or trailing slash."
  }
}

variable "name" {
  description = "Globally unique name of the bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts objects by default (SSE-KMS, with an S3 bucket key). null: SSE-S3 (AES256), only for a bucket AWS cannot deliver to otherwise, e.g. the target of S3 server access logs."
  type        = string
  default     = null
}

variable "lifecycle_rules" {
  description = "Lifecycle rules by id, besides abort-incomplete-uploads (which the module always writes: incomplete multipart uploads are aborted after a day), all enabled: the key prefix they apply to (null: the whole bucket), days until current objects expire and/or days noncurrent versions are kept."
  type = map(object({
    prefix          = optional(string)
    expiration_days = optional(number)
    noncurrent_days = optional(number)
  }))
  default = {}

  validation {
    condition     = alltrue([for rule in values(var.lifecycle_rules) : rule.expiration_days != null || rule.noncurrent_days != null])
    error_message = "Each lifecycle rule expires current objects, noncurrent versions, or both."
  }

  validation {
    condition     = !contains(keys(var.lifecycle_rules), "abort-incomplete-uploads")
    error_message = "abort-incomplete-uploads is the module's own rule."
  }
}

variable "access_logging" {
  description = "Where S3 server access logs of this bucket go ({bucket, prefix}); null: no access logging (skip CKV_AWS_18 on the module block with the reason)."
  type = object({
    bucket = string
    prefix = string
  })
  default = null
}

variable "eventbridge" {
  description = "Send the bucket's events to EventBridge (false: no notifications; skip CKV2_AWS_62 on the module block with the reason)."
  type        = bool
  default     = false
}

variable "policy_documents" {
  description = "IAM policy documents (JSON) whose statements the bucket policy holds before its own DenyInsecureTransport statement, e.g. a service's grant to write into the bucket."
  type        = list(string)
  default     = []
}

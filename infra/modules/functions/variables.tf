variable "name_prefix" {
  description = "Prefix of every resource name, e.g. complaints-prod."
  type        = string
}

variable "environment" {
  description = "dev or prod: the functions write their CloudWatch metrics under Complaints/<environment>, with it as the Environment dimension (complaints/metrics.py)."
  type        = string
}

variable "image_uri" {
  description = "The serving image, pinned by digest: <account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<64 hex>."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$", var.image_uri))
    error_message = "image_uri must name an ECR image by its sha256 digest (…@sha256:<64 hex>), never by a tag."
  }
}

variable "architecture" {
  description = "Instruction set the image is built for: arm64 (Graviton, 20% cheaper per GB-second) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture is arm64 or x86_64."
  }
}

variable "table_prefix" {
  description = "The store's table prefix (module store)."
  type        = string
}

variable "table_arns" {
  description = "Table ARN by store table name (module store)."
  type        = map(string)
}

variable "batch_bucket_name" {
  description = "Bucket of batch files (module intake)."
  type        = string
}

variable "batch_bucket_arn" {
  description = "ARN of the bucket of batch files (module intake)."
  type        = string
}

variable "inbox_prefix" {
  description = "Key prefix where batch files arrive."
  type        = string
}

variable "chunk_prefix" {
  description = "Key prefix where intake writes the chunks of a batch."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's key (module key)."
  type        = string
}

variable "chunk_size" {
  description = "Complaints per triage call (one Map iteration)."
  type        = number
  default     = 100
}

variable "triage_memory_mb" {
  description = "Memory of the triage function; CPU share grows with it."
  type        = number
  default     = 1024
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions per function: caps the write rate on the store and protects the account's other functions."
  type        = map(number)
  default     = { intake = 5, triage = 20, manual_triage = 5, submit = 10, reconcile = 5, ops_api = 10 }
}

variable "cognito_issuer" {
  description = "Issuer of the ops user pool (module ops_api, oidc_issuer): the ops_api function verifies access tokens against it and its JWKS."
  type        = string
}

variable "cognito_client_ids" {
  description = "App clients whose access tokens the ops_api function takes (module ops_api, client_ids)."
  type        = list(string)
}

variable "log_level" {
  description = "Level of the handlers' JSON logs."
  type        = string
  default     = "INFO"
}

variable "log_retention_days" {
  description = "Days the functions' logs are kept."
  type        = number
  default     = 365
}

variable "permissions_boundary_arn" {
  description = "infra/bootstrap's permissions boundary of the environment (complaints-<env>-role-boundary): every role of this module carries it, and the apply role may create no role without it."
  type        = string
}

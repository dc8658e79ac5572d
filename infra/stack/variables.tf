variable "environment" {
  description = "dev or prod: names every resource complaints-<environment>-..."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment is dev or prod."
  }
}

variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"
}

variable "git_sha" {
  description = "Commit the release was built from (40 hex); tags every resource."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{40}$", var.git_sha))
    error_message = "git_sha is the full 40-character commit sha."
  }
}

variable "model_versions" {
  description = "Version (content hash) of each model baked into the image, from functions/build/models/models.json (python -m model.serving_image stage --env ENV): \"<task>\" is the champion, \"<task>:challenger\" a canary or shadow challenger; tags every resource."
  type        = map(string)

  validation {
    condition     = length(var.model_versions) > 0 && alltrue([for version in values(var.model_versions) : can(regex("^[0-9a-f]{16}$", version))])
    error_message = "model_versions maps each task (and task:challenger) to its 16-hex content-hash version."
  }
}

variable "image_uri" {
  description = "The serving image by digest: <account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<64 hex>."
  type        = string
}

variable "architecture" {
  description = "arm64 or x86_64: what the image was built for."
  type        = string
  default     = "arm64"
}

variable "chunk_size" {
  description = "Complaints per triage call."
  type        = number
  default     = 100
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions per function."
  type        = map(number)
  default     = { intake = 5, triage = 20, manual_triage = 5, submit = 10, reconcile = 5, ops_api = 10 }
}

variable "api_rate_limit" {
  description = "Steady requests per second the intake API accepts."
  type        = number
  default     = 20
}

variable "api_burst_limit" {
  description = "Burst of requests the intake API accepts."
  type        = number
  default     = 50
}

variable "log_retention_days" {
  description = "Days logs are kept (functions, state machine, API)."
  type        = number
  default     = 365
}

variable "deletion_protection" {
  description = "Refuse to delete the store's tables."
  type        = bool
  default     = true
}

variable "ops_app_origins" {
  description = "Origins, besides Budibase's own (added when budibase is set), whose browsers may call the ops API."
  type        = list(string)
  default     = []
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "budibase" {
  description = "Self-hosted Budibase, the ops front end (modules/budibase), in the bank's landing-zone VPC: its DNS name and certificate, the VPC and subnets, the corporate ranges that may reach it, the first administrator's mailbox, and sizes; null: not hosted."
  type = object({
    domain                       = string
    certificate_arn              = string
    vpc_id                       = string
    private_subnet_ids           = list(string)
    public_subnet_ids            = optional(list(string), [])
    internal                     = optional(bool, false)
    allowed_cidrs                = list(string)
    admin_email                  = string
    image_version                = optional(string, "3.38.1")
    cpu                          = optional(number, 1024)
    memory                       = optional(number, 4096)
    backup_retention_days        = optional(number, 35)
    weekly_backup_retention_days = optional(number, 0)
  })
  default = null
}

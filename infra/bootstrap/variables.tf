variable "environment" {
  description = "dev or prod: the account this bootstrap is applied in."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment is dev or prod."
  }
}

variable "region" {
  description = "Region of the state bucket and the image repository (the stack's region)."
  type        = string
  default     = "us-east-1"
}

variable "state_bucket_name" {
  description = "Globally unique name of the Terraform state bucket, e.g. megabank-complaints-tfstate-prod."
  type        = string
}

variable "repository_name" {
  description = "ECR repository of the serving image."
  type        = string
  default     = "complaints-serving"
}

variable "images_kept" {
  description = "Images the repository keeps."
  type        = number
  default     = 30
}

variable "github_repository" {
  description = "The GitHub repository whose workflows assume the roles, owner/name exactly as GitHub spells it (the OIDC sub claim is compared case-sensitively)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.github_repository))
    error_message = "github_repository is owner/name, without wildcards."
  }
}

variable "environments" {
  description = "Environments deployed in this account: a plan, a gate, an apply and a retrain role and a permissions boundary each. null: only environment (one account per environment)."
  type        = list(string)
  default     = null

  validation {
    condition     = var.environments == null ? true : length(var.environments) > 0 && alltrue([for name in var.environments : contains(["dev", "prod"], name)])
    error_message = "environments lists dev and/or prod."
  }
}

variable "create_oidc_provider" {
  description = "Create GitHub's OIDC identity provider (one per account); false where the account already has it."
  type        = bool
  default     = true
}

variable "promoted_from" {
  description = "Per environment, the environment whose releases it takes its versions from (deploy/<env>.yaml's promoted_from, model/promotion.py). Where both are deployed in this account, the promoted environment's gate, apply and retrain roles read the source's release records, and the source's retrain role reads the promoted environment's corrections."
  type        = map(string)
  default     = { prod = "dev" }

  validation {
    condition     = alltrue([for env, source in var.promoted_from : contains(["dev", "prod"], env) && contains(["dev", "prod"], source) && env != source])
    error_message = "promoted_from maps an environment (dev or prod) to another."
  }
}

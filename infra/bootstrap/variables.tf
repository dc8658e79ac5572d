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

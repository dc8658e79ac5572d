terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.81, < 6.0"
    }
  }

  # Remote state in the S3 bucket made by infra/bootstrap, one key per environment, locked with an S3
  # lock file (Terraform >= 1.10). Values: infra/envs/<env>.s3.tfbackend (terraform init -backend-config=...).
  backend "s3" {}
}

provider "aws" {
  region = var.region

  # Every resource the provider creates carries the release: environment, git sha and model versions.
  default_tags {
    tags = local.release_tags
  }
}

terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.81, < 6.0"
    }
  }

  # Applied once per account with local state, before anything else exists; afterwards its state can be
  # moved into the bucket it made (terraform init -migrate-state with a backend "s3" block).
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      "complaints:environment" = var.environment
      "complaints:stack"       = "bootstrap"
    }
  }
}

# What must exist before the stack can be planned: the bucket holding Terraform state, and the private
# ECR repository the serving image is pushed to (the stack's functions name an image in it by digest).
# Who may plan, apply and retrain from GitHub Actions, and the Hub token secret: identity.tf.

resource "aws_kms_key" "bootstrap" {
  description             = "complaints-${var.environment}: Terraform state, serving images and the Hub token"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key; the account root statement is the standard delegation to IAM policies.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key; the only principal is this account.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key, not every resource.
  statement {
    sid       = "AccountAdministersTheKeyThroughIAM"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

module "state_bucket" {
  #checkov:skip=CKV_AWS_18:Access to the state bucket is recorded by CloudTrail data events of the account; a second log bucket per account is not needed for one object per environment.
  #checkov:skip=CKV_AWS_144:State is versioned in-region; cross-region replication is a platform-wide disaster-recovery decision.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to state writes.
  source      = "../modules/bucket"
  name        = var.state_bucket_name
  kms_key_arn = aws_kms_key.bootstrap.arn

  lifecycle_rules = {
    "keep-old-state-versions-a-year" = { noncurrent_days = 365 }
  }
}

resource "aws_ecr_repository" "serving" {
  name                 = var.repository_name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.bootstrap.arn
  }
}

resource "aws_ecr_lifecycle_policy" "serving" {
  repository = aws_ecr_repository.serving.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last ${var.images_kept} images (a rollback needs the previous digests)"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = var.images_kept }
      action       = { type = "expire" }
    }]
  })
}

# Lambda pulls the image of this account's complaints functions (same account: the repository policy grants
# the service; the functions' roles need no ECR permission).
data "aws_iam_policy_document" "serving_pull" {
  statement {
    sid     = "LambdaPullsTheComplaintsFunctionsImage"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "aws:sourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:lambda:${var.region}:${data.aws_caller_identity.current.account_id}:function:complaints-*"]
    }
  }
}

resource "aws_ecr_repository_policy" "serving" {
  repository = aws_ecr_repository.serving.name
  policy     = data.aws_iam_policy_document.serving_pull.json
}

# The state bucket's resources moved into module bucket; these keep the bucket (and the state in it)
# where it is instead of replacing it.

moved {
  from = aws_s3_bucket.state
  to   = module.state_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.state
  to   = module.state_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_versioning.state
  to   = module.state_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.state
  to   = module.state_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.state
  to   = module.state_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.state
  to   = module.state_bucket.aws_s3_bucket_policy.this
}

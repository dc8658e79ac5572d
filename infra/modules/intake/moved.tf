# The batch bucket's and the access log bucket's resources moved into module bucket; these keep both
# buckets (and the batches in them) where they are instead of replacing them.

moved {
  from = aws_s3_bucket.batches
  to   = module.batches.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.batches
  to   = module.batches.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.batches
  to   = module.batches.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_versioning.batches
  to   = module.batches.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.batches
  to   = module.batches.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.batches
  to   = module.batches.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_logging.batches
  to   = module.batches.aws_s3_bucket_logging.this[0]
}

moved {
  from = aws_s3_bucket_policy.batches
  to   = module.batches.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_notification.batches
  to   = module.batches.aws_s3_bucket_notification.this[0]
}

moved {
  from = aws_s3_bucket.access_logs
  to   = module.access_logs.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.access_logs
  to   = module.access_logs.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.access_logs
  to   = module.access_logs.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_versioning.access_logs
  to   = module.access_logs.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.access_logs
  to   = module.access_logs.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.access_logs
  to   = module.access_logs.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.access_logs
  to   = module.access_logs.aws_s3_bucket_policy.this
}

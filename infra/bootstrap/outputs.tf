output "state_bucket" {
  description = "Put this in infra/envs/<env>.s3.tfbackend as bucket."
  value       = module.state_bucket.name
}

output "repository_url" {
  description = "Push the serving image here; the stack's image_uri is <repository_url>@sha256:<digest>."
  value       = aws_ecr_repository.serving.repository_url
}

# Development: small caps, short log retention, tables that can be torn down.
environment          = "dev"
region               = "us-east-1"
chunk_size           = 100
reserved_concurrency = { intake = 2, triage = 5, manual_triage = 2, submit = 2, reconcile = 2, ops_api = 2 }
api_rate_limit       = 5
api_burst_limit      = 10
log_retention_days   = 30
deletion_protection  = false
alarm_emails         = []

# Budibase, the ops front end (infra/modules/budibase), in the landing zone's dev VPC. Not hosted until the
# platform team hands over the VPC, subnets, DNS name and ACM certificate: replace null with, e.g.,
# budibase = {
#   domain             = "ops.dev.complaints.megabank.example"
#   certificate_arn    = "arn:aws:acm:us-east-1:<account>:certificate/<id>"
#   vpc_id             = "vpc-<id>"
#   private_subnet_ids = ["subnet-<a>", "subnet-<b>"]
#   internal           = true               # dev: reachable from the corporate network only
#   allowed_cidrs      = ["10.0.0.0/8"]     # the corporate ranges
#   admin_email        = "complaints-ops-dev@megabank.example"
#   memory             = 2048               # 1 vCPU, 2 GB: a handful of builders
#   backup_retention_days = 7
# }
budibase = null

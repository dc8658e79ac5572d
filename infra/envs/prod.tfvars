# Production: 3k-15k complaints a day, a bank's retention, tables that cannot be deleted by accident.
environment          = "prod"
region               = "us-east-1"
chunk_size           = 100
reserved_concurrency = { intake = 5, triage = 20, manual_triage = 5, submit = 10, reconcile = 5, ops_api = 10 }
api_rate_limit       = 20
api_burst_limit      = 50
log_retention_days   = 365
deletion_protection  = true
alarm_emails         = [] # subscribe the on-call tool to the alarm_topic_arn output

# Budibase, the ops front end (infra/modules/budibase), in the landing zone's prod VPC. Not hosted until the
# platform team hands over the VPC, subnets, DNS name and ACM certificate: replace null with, e.g.,
# budibase = {
#   domain             = "ops.complaints.megabank.example"
#   certificate_arn    = "arn:aws:acm:us-east-1:<account>:certificate/<id>"
#   vpc_id             = "vpc-<id>"
#   private_subnet_ids = ["subnet-<a>", "subnet-<b>", "subnet-<c>"]
#   public_subnet_ids  = ["subnet-<d>", "subnet-<e>", "subnet-<f>"]  # or internal = true
#   allowed_cidrs      = ["10.0.0.0/8"]     # the corporate ranges (egress of the bank's proxies)
#   admin_email        = "complaints-ops@megabank.example"
#   memory             = 4096               # 1 vCPU, 4 GB
#   backup_retention_days        = 35
#   weekly_backup_retention_days = 365
# }
budibase = null

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

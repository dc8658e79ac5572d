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

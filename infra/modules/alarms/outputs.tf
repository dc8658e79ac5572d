output "topic_arn" {
  description = "SNS topic every alarm notifies; subscribe the on-call tool to it."
  value       = aws_sns_topic.alarms.arn
}

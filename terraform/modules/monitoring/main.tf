# The pipeline's alarms and dashboard on its metrics (namespace MLPipeline/<pipeline>), and the topic the
# alarms notify. ml_assets/monitoring/catalog.py declares the same; a test keeps the two identical.

data "aws_region" "current" {}

locals {
  namespace = "MLPipeline/${var.pipeline_name}"
  alarms = {
    "${var.pipeline_name}-ModelQuality-Low" = {
      metric      = "ModelQuality"
      comparison  = "LessThanThreshold"
      threshold   = var.min_model_quality
      description = "Model quality dropped below the gate a new model must pass"
    }
    "${var.pipeline_name}-PredictionLatency-High" = {
      metric      = "PredictionLatency"
      comparison  = "GreaterThanThreshold"
      threshold   = 2000
      description = "Prediction latency exceeded 2 s"
    }
    "${var.pipeline_name}-DataDrift-High" = {
      metric      = "DataDriftScore"
      comparison  = "GreaterThanThreshold"
      threshold   = 0.3
      description = "Data drift above threshold"
    }
    "${var.pipeline_name}-PipelineExecution-Long" = {
      metric      = "PipelineExecutionTime"
      comparison  = "GreaterThanThreshold"
      threshold   = 3600
      description = "Pipeline run took longer than an hour"
    }
  }
  widgets = [
    { title = "Model Performance", metrics = ["ModelQuality", "DataQualityScore"] },
    { title = "Prediction Latency", metrics = ["PredictionLatency"] },
    { title = "Drift Detection", metrics = ["DataDriftScore", "ModelDriftScore"] },
    { title = "Pipeline Execution Time", metrics = ["PipelineExecutionTime"] },
  ]
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.key
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = each.key
  alarm_description   = each.value.description
  namespace           = local.namespace
  metric_name         = each.value.metric
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.pipeline_name}-MLPipeline-Dashboard"
  dashboard_body = jsonencode({
    widgets = [for index, widget in local.widgets : {
      type   = "metric"
      x      = 12 * (index % 2)
      y      = 6 * floor(index / 2)
      width  = 12
      height = 6
      properties = {
        metrics = [for metric in widget.metrics : [local.namespace, metric]]
        period  = 300
        stat    = "Average"
        region  = data.aws_region.current.region
        title   = widget.title
      }
    }]
  })
}

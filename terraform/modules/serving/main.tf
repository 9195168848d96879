# The model servers' front door: a public ALB (HTTPS, HTTP redirected, WAF in front), a blue and a green target
# group, and one ECS service per colour. Only POST /predict and POST /invocations are forwarded, and the model
# servers ask for an API key (ML_ASSETS_SCORING_KEYS); every other path gets a 404 from the ALB itself. Releases
# (ml_assets.resources.aws) own the scoring rule's weights, the services' task definitions and desired counts;
# Terraform creates them and then leaves them alone.

data "aws_region" "current" {}
data "aws_elb_service_account" "this" {}

locals {
  slots = ["blue", "green"]
  # The names the pipeline derives from deployment.aws.project (ml_assets/resources/aws/platform.py, AwsNames);
  # a test keeps them identical.
  names = {
    load_balancer = var.name
    target_group  = { for slot in local.slots : slot => "${var.name}-${slot}" }
    service       = { for slot in local.slots : slot => "${var.name}-model-${slot}" }
    task_family   = "${var.name}-model-server"
  }
  container_name = "model-server"
  container_port = 8080
  health_port    = 8081 # /health from a thread of its own: answered while a flood fills the event loop
  slot_header    = "X-ML-Assets-Slot"
  # ml_assets/resources/aws/alb.py SCORING_RULE_PRIORITY: the rule whose weights releases move (a test keeps both)
  scoring_rule_priority = 100
}

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "The public load balancer of the model servers"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.allowed_cidr
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  # checkov:skip=CKV_AWS_260:Port 80 only answers with a redirect to HTTPS (see the http listener).
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from clients, redirected to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = var.allowed_cidr
}

resource "aws_vpc_security_group_egress_rule" "alb_to_model_servers" {
  for_each                     = toset([tostring(local.container_port), tostring(local.health_port)])
  security_group_id            = aws_security_group.alb.id
  description                  = "Model servers: requests and health checks"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)
  referenced_security_group_id = var.model_servers_security_group_id
}

resource "aws_vpc_security_group_ingress_rule" "model_servers_from_alb" {
  for_each                     = toset([tostring(local.container_port), tostring(local.health_port)])
  security_group_id            = var.model_servers_security_group_id
  description                  = "Requests and health checks from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)
  referenced_security_group_id = aws_security_group.alb.id
}

# ALB access logs accept SSE-S3 only (not KMS), so they get a bucket of their own.
resource "aws_s3_bucket" "alb_logs" {
  # checkov:skip=CKV_AWS_145:Application Load Balancer access logs support only SSE-S3 encryption.
  # checkov:skip=CKV_AWS_18:This is the access-log target; logging it into itself would loop.
  # checkov:skip=CKV_AWS_144:Access logs stay in the region they describe; replicate per organisation policy.
  # checkov:skip=CKV2_AWS_62:Nothing reacts to new access-log objects.
  bucket_prefix = "${var.name}-alb-logs-"
}

resource "aws_s3_bucket_versioning" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "alb_logs" {
  bucket                  = aws_s3_bucket.alb_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "LoadBalancerWritesLogs"
        Effect    = "Allow"
        Principal = { AWS = data.aws_elb_service_account.this.arn }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.alb_logs.arn}/*"
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.alb_logs.arn, "${aws_s3_bucket.alb_logs.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }
    ]
  })
  depends_on = [aws_s3_bucket_public_access_block.alb_logs]
}

resource "aws_lb" "this" {
  name                       = local.names.load_balancer
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  access_logs {
    bucket  = aws_s3_bucket.alb_logs.id
    enabled = true
  }
  depends_on = [aws_s3_bucket_policy.alb_logs]
}

resource "aws_lb_target_group" "this" {
  # checkov:skip=CKV_AWS_378:TLS ends at the ALB; targets are in private subnets, reachable only from the ALB's security group, and authenticate clients by API key.
  for_each             = toset(local.slots)
  name                 = local.names.target_group[each.key]
  port                 = local.container_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30
  health_check {
    path                = "/health"
    port                = tostring(local.health_port)
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

# Nothing but scoring is forwarded: /health, /version and /metrics are for the ALB and the VPC, not the internet.
resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = "{\"error\": \"not found\"}"
      status_code  = "404"
    }
  }
}

# Clients' scoring: weighted between the colours. Releases move the weights; Terraform does not undo them.
resource "aws_lb_listener_rule" "scoring" {
  listener_arn = aws_lb_listener.https.arn
  priority     = local.scoring_rule_priority
  condition {
    path_pattern {
      values = ["/predict", "/invocations"]
    }
  }
  condition {
    http_request_method {
      values = ["POST"]
    }
  }
  action {
    type = "forward"
    forward {
      target_group {
        arn    = aws_lb_target_group.this["blue"].arn
        weight = 100
      }
      target_group {
        arn    = aws_lb_target_group.this["green"].arn
        weight = 0
      }
    }
  }
  lifecycle {
    ignore_changes = [action]
  }
}

# Golden records reach one colour directly, but only from inside the VPC (its NAT addresses): from anywhere else
# the slot header is refused below, so nobody outside can be scored by a candidate at 0 % weight.
resource "aws_lb_listener_rule" "slot" {
  for_each     = toset(local.slots)
  listener_arn = aws_lb_listener.https.arn
  priority     = 10 + index(local.slots, each.key)
  condition {
    http_header {
      http_header_name = local.slot_header
      values           = [each.key]
    }
  }
  condition {
    source_ip {
      values = [for ip in var.internal_source_ips : "${ip}/32"]
    }
  }
  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[each.key].arn
  }
}

resource "aws_lb_listener_rule" "slot_from_outside" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 20
  condition {
    http_header {
      http_header_name = local.slot_header
      values           = ["*"]
    }
  }
  action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = "{\"error\": \"the slot header is for callers inside the VPC\"}"
      status_code  = "403"
    }
  }
}

# -- WAF in front of the load balancer ---------------------------------------------------------------------------

resource "aws_wafv2_web_acl" "this" {
  name  = var.name
  scope = "REGIONAL"
  default_action {
    allow {}
  }
  # A client IP that floods is blocked for a while, before its requests reach a model server.
  rule {
    name     = "RateLimitPerClient"
    priority = 0
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit                 = var.rate_limit
        evaluation_window_sec = 300
        aggregate_key_type    = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "RateLimitPerClient"
      sampled_requests_enabled   = true
    }
  }
  rule {
    name     = "AWSManagedRulesCommonRuleSet"
    priority = 1
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"
        # a batch of records is larger than this rule's 8 KB; the model servers bound bodies themselves (1 MB, 413)
        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "AWSManagedRulesCommonRuleSet"
      sampled_requests_enabled   = true
    }
  }
  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 2
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "AWSManagedRulesKnownBadInputsRuleSet"
      sampled_requests_enabled   = true
    }
  }
  rule {
    name     = "AWSManagedRulesAmazonIpReputationList"
    priority = 3
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesAmazonIpReputationList"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "AWSManagedRulesAmazonIpReputationList"
      sampled_requests_enabled   = true
    }
  }
  # Scoring clients are services, not people behind Tor or anonymising proxies.
  rule {
    name     = "AWSManagedRulesAnonymousIpList"
    priority = 4
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesAnonymousIpList"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "AWSManagedRulesAnonymousIpList"
      sampled_requests_enabled   = true
    }
  }
  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  resource_arn = aws_lb.this.arn
  web_acl_arn  = aws_wafv2_web_acl.this.arn
}

resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]
}

# -- model servers -----------------------------------------------------------------------------------------------

# The revision Terraform registers serves no model: a release registers revisions that name the model version.
resource "aws_ecs_task_definition" "model_server" {
  family                   = local.names.task_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  volume {
    name = "tmp"
  }
  container_definitions = jsonencode([{
    name                   = local.container_name
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    portMappings           = [for port in [local.container_port, local.health_port] : { containerPort = port, protocol = "tcp" }]
    environment = [for key, value in {
      ML_ASSETS_HOST                 = "0.0.0.0"
      ML_ASSETS_PORT                 = tostring(local.container_port)
      ML_ASSETS_HEALTH_PORT          = tostring(local.health_port)
      ML_ASSETS_ENVIRONMENT          = var.environment
      ML_ASSETS_CLOUDWATCH_NAMESPACE = var.metrics_namespace
      ML_ASSETS_TRAFFIC_LOG          = var.traffic_log
      ML_ASSETS_SCORING_KEYS         = "secretsmanager:${var.scoring_keys_secret_arn}"
      ML_ASSETS_HOME                 = "/tmp/ml_assets"
      ML_ASSETS_MODEL_STORE          = var.model_store
      AWS_REGION                     = data.aws_region.current.region
    } : { name = key, value = value }]
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${local.health_port}/health', timeout=2)"]
      interval    = 10
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_group
        awslogs-region        = data.aws_region.current.region
        awslogs-stream-prefix = "model-server"
      }
    }
  }])
}

resource "aws_ecs_service" "model" {
  for_each                           = toset(local.slots)
  name                               = local.names.service[each.key]
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.model_server.arn
  desired_count                      = 0
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  health_check_grace_period_seconds  = 60
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.model_servers_security_group_id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.this[each.key].arn
    container_name   = local.container_name
    container_port   = local.container_port
  }
  lifecycle {
    ignore_changes = [task_definition, desired_count]
  }
  depends_on = [aws_lb_listener.https]
}

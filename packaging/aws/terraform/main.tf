# vitals as an ALB health-check sidecar: an ECS Fargate service whose tasks run a WebSocket server
# plus vitals, behind an Application Load Balancer. The ALB cannot health-check a WebSocket endpoint,
# so the target group's traffic goes to the WebSocket port while its health check is overridden to
# vitals' port (8081), path /health/alb: vitals performs the real WebSocket handshake (and whatever
# else its sidecar configuration checks) and answers 200 or 503.
#
# Timing (the defaults in variables.tf; packaging/aws/README.md explains them):
#   health check every 5 s, 3 s timeout, unhealthy after 2 failures (10 s), healthy after 2 passes;
#   vitals shutdown.drain 15 s >= 5 s x 2, so on SIGTERM the ALB sees the 503s and takes the target
#   out before vitals exits; deregistration_delay 30 s >= drain; stopTimeout 30 s > drain + margin.
#
# The module configures no provider: the caller's aws provider (region, credentials) applies.

terraform {
  required_version = ">= 1.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  https = var.certificate_arn != ""

  # HealthCheckProtocol HTTPS: vitals serves TLS on its port (server.tls, from VITALS_TLS_CERT/KEY in
  # sidecar.json) with a self-signed key pair made once per task at start; the ALB encrypts its
  # probes and, as for any target, does not verify the certificate.
  vitals_tls_entry_point = var.health_check_protocol == "HTTPS" ? ["/bin/sh", "-c",
    "d=/var/lib/vitals/tls && mkdir -p $d && { [ -s $d/tls.key ] || openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj /CN=vitals -keyout $d/tls.key -out $d/tls.crt 2>/dev/null; } && VITALS_TLS_CERT=$d/tls.crt VITALS_TLS_KEY=$d/tls.key exec /usr/bin/vitals \"$@\"",
  "vitals"] : null

  vitals_environment = [
    { name = "VITALS_WS_URL", value = "ws://127.0.0.1:${var.websocket_port}${var.websocket_path}" },
    { name = "VITALS_DRAIN", value = "${var.drain_seconds}s" },
    { name = "VITALS_PORT", value = tostring(var.vitals_port) },
    # The target group's health check, as vitals' load_balancer section models it (sidecar.json):
    # the same variables, so /health/probers, `vitals replay` and the drain see the ALB as it is.
    { name = "VITALS_LB_INTERVAL", value = "${var.health_check_interval}s" },
    { name = "VITALS_LB_TIMEOUT", value = "${var.health_check_timeout}s" },
    { name = "VITALS_LB_HEALTHY", value = tostring(var.healthy_threshold) },
    { name = "VITALS_LB_UNHEALTHY", value = tostring(var.unhealthy_threshold) },
  ]
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name}"
  retention_in_days = 14
}

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_iam_role" "task_execution" {
  name = "${var.name}-task-execution"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "task_execution" {
  role       = aws_iam_role.task_execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# --- network ----------------------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "ALB: HTTP/HTTPS from anywhere"
  vpc_id      = var.vpc_id

  ingress {
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "Tasks: the WebSocket port and the vitals health port, from the ALB only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "WebSocket traffic from the ALB"
    from_port       = var.websocket_port
    to_port         = var.websocket_port
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }
  # Without this rule every health check times out and no target ever becomes healthy.
  ingress {
    description     = "ALB health checks to vitals"
    from_port       = var.vitals_port
    to_port         = var.vitals_port
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# --- load balancer ----------------------------------------------------------------------------------

resource "aws_lb" "this" {
  name               = var.name
  load_balancer_type = "application"
  internal           = false
  subnets            = var.public_subnet_ids
  security_groups    = [aws_security_group.alb.id]
  # WebSocket connections are idle between messages: the server (or client) must send a frame (a
  # ping) more often than this, or the ALB closes the connection.
  idle_timeout = 300
}

resource "aws_lb_target_group" "websocket" {
  name        = "${var.name}-tg"
  vpc_id      = var.vpc_id
  target_type = "ip"
  protocol    = "HTTP"
  port        = var.websocket_port # traffic: the WebSocket server

  # A deregistered target's open WebSocket connections get this long before the ALB closes them.
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled  = true
    protocol = var.health_check_protocol
    port     = tostring(var.vitals_port) # overridden: vitals, not the WebSocket port
    path     = "/health/alb"
    matcher  = "200"
    # vitals answers from memory in microseconds: a short interval costs nothing, and the timeout
    # only has to cover the network.
    interval            = var.health_check_interval
    timeout             = var.health_check_timeout
    healthy_threshold   = var.healthy_threshold
    unhealthy_threshold = var.unhealthy_threshold
  }

  lifecycle {
    precondition {
      condition     = var.health_check_timeout < var.health_check_interval
      error_message = "health_check_timeout must be shorter than health_check_interval."
    }
    precondition {
      condition     = var.health_check_interval * var.unhealthy_threshold <= var.drain_seconds
      error_message = "drain_seconds must cover health_check_interval x unhealthy_threshold, or vitals exits before the ALB has seen its 503s."
    }
    precondition {
      condition     = var.deregistration_delay >= var.drain_seconds
      error_message = "deregistration_delay must be at least drain_seconds."
    }
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.https ? "redirect" : "forward"
    target_group_arn = local.https ? null : aws_lb_target_group.websocket.arn

    dynamic "redirect" {
      for_each = local.https ? [1] : []
      content {
        protocol    = "HTTPS"
        port        = "443"
        status_code = "HTTP_301"
      }
    }
  }
}

resource "aws_lb_listener" "https" {
  count             = local.https ? 1 : 0
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.websocket.arn
  }
}

# --- ECS --------------------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc" # the containers share 127.0.0.1: vitals reaches the server there
  cpu                      = "512"
  memory                   = "1024"
  execution_role_arn       = aws_iam_role.task_execution.arn

  container_definitions = jsonencode([
    {
      name         = "websocket"
      image        = var.websocket_image
      essential    = true
      portMappings = [{ containerPort = var.websocket_port, protocol = "tcp" }]
      stopTimeout  = var.stop_timeout
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "websocket"
        }
      }
    },
    {
      name      = "vitals"
      image     = var.vitals_image
      essential = true
      # /etc/vitals/sidecar.json (packaging/docker/sidecar.json): group "alb" = the WebSocket handshake.
      command      = ["serve", "-c", "/etc/vitals/sidecar.json"]
      entryPoint   = local.vitals_tls_entry_point
      environment  = local.vitals_environment
      portMappings = [{ containerPort = var.vitals_port, protocol = "tcp" }]
      # Above shutdown.drain: SIGKILL must not cut the drain short.
      stopTimeout = var.stop_timeout
      # Is this container's daemon listening? (Not the service's health: that is /health/alb.)
      healthCheck = {
        command     = ["CMD-SHELL", "vitals check -c /etc/vitals/healthcheck.json >/dev/null || exit 1"]
        interval    = 10
        timeout     = 5
        retries     = 3
        startPeriod = 10
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "vitals"
        }
      }
    },
  ])

  lifecycle {
    precondition {
      condition     = var.stop_timeout > var.drain_seconds
      error_message = "stop_timeout must be longer than drain_seconds, or ECS sends SIGKILL mid-drain."
    }
  }
}

resource "aws_ecs_service" "this" {
  name            = var.name
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"

  # New tasks answer 503 ("pending") until their first checks pass: give them that long before ECS
  # acts on ALB health.
  health_check_grace_period_seconds  = 30
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.websocket.arn
    container_name   = "websocket"
    container_port   = var.websocket_port
  }

  depends_on = [aws_lb_listener.http]
}

# Inputs of the vitals ALB + ECS module. The timing defaults are the ones packaging/aws/README.md
# explains; packaging/aws/cloudformation.json uses the same numbers (the test suite checks both).

variable "name" {
  description = "Name prefix of every resource"
  type        = string
  default     = "vitals-ws"
  validation {
    condition     = length(var.name) <= 28
    error_message = "At most 28 characters: load balancer and target group names are limited to 32."
  }
}

variable "vpc_id" {
  description = "VPC of the load balancer and the tasks"
  type        = string
}

variable "public_subnet_ids" {
  description = "At least two public subnets (different AZs) for the internet-facing ALB"
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets for the tasks (with a NAT gateway or VPC endpoints to pull images)"
  type        = list(string)
}

variable "websocket_image" {
  description = "Image of the WebSocket server"
  type        = string
}

variable "websocket_port" {
  description = "Port the WebSocket server listens on: the target group's traffic port"
  type        = number
  default     = 8080
}

variable "websocket_path" {
  description = "Path vitals performs the WebSocket handshake on"
  type        = string
  default     = "/"
}

variable "vitals_image" {
  description = "The vitals image (packaging/Dockerfile)"
  type        = string
}

variable "vitals_port" {
  description = "vitals' health port: the target group's health check port (the vitals default)"
  type        = number
  default     = 8081
}

variable "desired_count" {
  description = "Number of tasks"
  type        = number
  default     = 2
}

variable "certificate_arn" {
  description = "ACM certificate for an HTTPS listener (wss://); empty: plain HTTP on port 80 only"
  type        = string
  default     = ""
}

# --- timing -----------------------------------------------------------------------------------------

variable "health_check_protocol" {
  description = "ALB health check protocol to vitals. HTTPS: vitals serves TLS (server.tls) with a self-signed certificate made at container start; the ALB does not verify target certificates"
  type        = string
  default     = "HTTP"
  validation {
    condition     = contains(["HTTP", "HTTPS"], var.health_check_protocol)
    error_message = "HTTP or HTTPS."
  }
}

variable "health_check_interval" {
  description = "ALB health check interval, seconds. vitals answers from memory, so checking often is cheap"
  type        = number
  default     = 5
  validation {
    condition     = var.health_check_interval >= 5 && var.health_check_interval <= 300
    error_message = "The ALB accepts 5 to 300 seconds."
  }
}

variable "health_check_timeout" {
  description = "ALB health check timeout, seconds (below the interval)"
  type        = number
  default     = 3
}

variable "healthy_threshold" {
  description = "Consecutive passes before a target takes traffic"
  type        = number
  default     = 2
  validation {
    condition     = var.healthy_threshold >= 2 && var.healthy_threshold <= 10
    error_message = "The ALB accepts 2 to 10."
  }
}

variable "unhealthy_threshold" {
  description = "Consecutive failures before a target stops taking new connections"
  type        = number
  default     = 2
  validation {
    condition     = var.unhealthy_threshold >= 2 && var.unhealthy_threshold <= 10
    error_message = "The ALB accepts 2 to 10."
  }
}

variable "drain_seconds" {
  description = "vitals shutdown.drain (VITALS_DRAIN): after SIGTERM, /health/alb answers 503 this long"
  type        = number
  default     = 15
}

variable "deregistration_delay" {
  description = "Seconds a deregistered target's open WebSocket connections get before the ALB closes them (>= drain_seconds)"
  type        = number
  default     = 30
}

variable "stop_timeout" {
  description = "ECS stopTimeout of both containers, seconds: SIGKILL comes only after this (> drain_seconds; Fargate max 120)"
  type        = number
  default     = 30
  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120
    error_message = "Fargate accepts a stopTimeout of 2 to 120 seconds."
  }
}

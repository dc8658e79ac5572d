variable "name_prefix" {
  description = "Prefix of every resource name, e.g. complaints-prod."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's key (module key): encrypts the data volume, its backups, the secrets and the log groups."
  type        = string
}

variable "domain" {
  description = "DNS name Budibase is served on (a CNAME or alias to the alb_dns_name output), e.g. ops.complaints.megabank.example."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.domain))
    error_message = "domain is a lowercase DNS name, without scheme or path."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for domain, in the stack's region: the HTTPS listener presents it."
  type        = string
}

variable "vpc_id" {
  description = "The landing-zone VPC the bank's platform team provides (this module creates no network)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of vpc_id (no route from the internet; egress through the landing zone's NAT or proxy): the task and the data volume's mount targets."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Give at least two private subnets, in different availability zones."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets of vpc_id for an internet-facing load balancer; ignored when internal is true."
  type        = list(string)
  default     = []
}

variable "internal" {
  description = "Put the load balancer in the private subnets, reachable only from inside the bank's network."
  type        = bool
  default     = false
}

variable "allowed_cidrs" {
  description = "Source ranges that may reach the load balancer (443, and 80 only to be redirected): the bank's corporate ranges."
  type        = list(string)

  validation {
    condition     = length(var.allowed_cidrs) > 0 && alltrue([for cidr in var.allowed_cidrs : can(cidrhost(cidr, 0)) && !endswith(cidr, "/0")])
    error_message = "allowed_cidrs lists the corporate ranges (IPv4 CIDRs); the whole internet (/0) is not one."
  }

  # Ranges that split the internet (two /1s, 256 /8s) pass a /0 check. None may be broader than 10.0.0.0/8, the
  # broadest private block, and each is written as its own network address (203.0.113.7/8 is 203.0.0.0/8).
  validation {
    condition = alltrue([for cidr in var.allowed_cidrs : try(
      can(regex("^[0-9]+(\\.[0-9]+){3}/[0-9]+$", cidr)) && tonumber(split("/", cidr)[1]) >= 8 && cidrhost(cidr, 0) == split("/", cidr)[0],
    false)])
    error_message = "Each of allowed_cidrs is an IPv4 range no broader than /8, written as its network address (e.g. 10.0.0.0/8)."
  }

  # A private range (RFC 1918) is reachable only from inside networks; a public one admits whoever holds its
  # addresses: only the bank's own egress (proxy or NAT) addresses, /24 or narrower each.
  validation {
    condition = alltrue([for cidr in var.allowed_cidrs : try(
      tonumber(split("/", cidr)[1]) >= 24 || anytrue([for block in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] :
        tonumber(split("/", cidr)[1]) >= tonumber(split("/", block)[1]) &&
      cidrhost(join("/", [split("/", cidr)[0], split("/", block)[1]]), 0) == split("/", block)[0]]),
    false)])
    error_message = "A public range in allowed_cidrs is the bank's egress addresses, /24 or narrower; broader ranges must be private (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)."
  }
}

variable "image_version" {
  description = "Tag of the official single image budibase/budibase (Docker Hub)."
  type        = string
  default     = "3.38.1"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.image_version))
    error_message = "image_version is a release version (x.y.z), never latest."
  }
}

variable "cpu" {
  description = "vCPU units of the task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Memory of the task in MiB: CouchDB, Redis, MinIO, the app and the worker share it."
  type        = number
  default     = 4096
}

variable "admin_email" {
  description = "Address of the first Budibase administrator (a team mailbox, not a person's), created on first start; its password is generated into the secret."
  type        = string

  # Plain characters only: it is written into the secret's JSON as it is (terraform_data.credentials).
  validation {
    condition     = can(regex("^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$", var.admin_email))
    error_message = "admin_email is an e-mail address of letters, digits and ._%+- only."
  }
}

variable "backup_retention_days" {
  description = "Days each daily backup of the data volume is kept."
  type        = number
  default     = 35
}

variable "weekly_backup_retention_days" {
  description = "Days each weekly backup of the data volume is kept; 0: no weekly backups."
  type        = number
  default     = 0
}

variable "log_retention_days" {
  description = "Days the container's, the firewall's and the load balancer's logs are kept."
  type        = number
  default     = 365
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer; keep a deleted secret recoverable for 30 days."
  type        = bool
  default     = true
}

variable "permissions_boundary_arn" {
  description = "infra/bootstrap's permissions boundary of the environment (complaints-<env>-role-boundary): every role of this module carries it, and the apply role may create no role without it."
  type        = string
}

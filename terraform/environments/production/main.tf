# The production environment. State: s3://<state bucket>/production/terraform.tfstate, locked with S3's lock file.
#   terraform init -backend-config=backend.hcl && terraform apply

terraform {
  required_version = ">= 1.11" # write-only attributes
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
  backend "s3" {
    key          = "production/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Project = var.project, Environment = "production", ManagedBy = "terraform" }
  }
}

module "environment" {
  source                  = "../../modules/environment"
  project                 = var.project
  environment             = "production"
  pipeline_name           = var.pipeline_name
  pipeline_config         = var.pipeline_config
  image_tag               = var.image_tag
  certificate_arn         = var.certificate_arn
  allowed_cidr            = var.allowed_cidr
  availability_zones      = ["${var.region}a", "${var.region}b"]
  vpc_cidr                = var.vpc_cidr
  database_instance_class = var.database_instance_class
  database_multi_az       = var.database_multi_az
  deletion_protection     = var.deletion_protection
  min_model_quality       = var.min_model_quality
  alarm_emails            = var.alarm_emails
  run_cpu                 = var.run_cpu
  run_memory              = var.run_memory
}

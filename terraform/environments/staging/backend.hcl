# The bucket that terraform/bootstrap created (its output state_bucket) and its region.
bucket = "ml-assets-terraform-state-123456789012"
region = "eu-west-1"

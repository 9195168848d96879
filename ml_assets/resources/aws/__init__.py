"""AWS resources over boto3: ECS services, the ALB listener, CloudWatch metrics, alarms and dashboards.

Each resource is a thin Dagster ConfigurableResource; ``AwsServingPlatform`` combines them into the release
engine's ServingBackend, so canary and blue-green releases run on AWS by configuration alone.
"""

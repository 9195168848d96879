"""One way to make boto3 clients (region, endpoint, adaptive retries) and one way to report AWS failures."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from dagster import ConfigurableResource
from pydantic import Field

T = TypeVar("T")

AUTH_ERRORS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
}
THROTTLING_ERRORS = {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "SlowDown"}


class AwsError(RuntimeError):
    """An AWS call failed; the message names the call, the resource and what AWS said."""


@functools.cache
def _client(service: str, *, region: str | None, endpoint_url: str | None, max_attempts: int) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    region = region or session.region_name
    if not region:
        raise AwsError("no AWS region: set deployment.aws.region in the config, or AWS_REGION")
    known = set(session.get_available_regions(service)) | set(
        session.get_available_regions(service, partition_name="aws-us-gov")
    )
    if known and region not in known:
        raise AwsError(f"unknown AWS region {region!r} for {service} (deployment.aws.region or AWS_REGION)")
    config = Config(
        retries={"mode": "adaptive", "total_max_attempts": max_attempts}, connect_timeout=10, read_timeout=30
    )
    return session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)


def describe_failure(error: Exception, action: str, resource: str) -> AwsError:
    """An AwsError naming the action and resource, with a hint for the usual causes."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(error, NoCredentialsError):
        return AwsError(f"{action} {resource}: no AWS credentials found (environment, profile or task role)")
    if isinstance(error, EndpointConnectionError):
        return AwsError(f"{action} {resource}: cannot reach the AWS endpoint: {error}")
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "?")
        message = error.response.get("Error", {}).get("Message", "")
        attempts = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        hint = ""
        if code in AUTH_ERRORS:
            hint = " (check the AWS credentials and that their account and region are the intended ones)"
        elif code in THROTTLING_ERRORS or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            hint = f" (still failing after {attempts + 1} attempts with adaptive retries)"
        return AwsError(f"{action} {resource}: {code}: {message}{hint}")
    return AwsError(f"{action} {resource}: {type(error).__name__}: {error}")


class AwsClientResource(ConfigurableResource):
    """Where and how to call AWS. Credentials come from the usual chain (environment, profile, task role)."""

    region: str | None = Field(default=None, description="Default: AWS_REGION or the profile's region.")
    endpoint_url: str | None = Field(default=None, description="An AWS-compatible endpoint; default AWS itself.")
    max_attempts: int = Field(default=8, description="Attempts per call in botocore's adaptive retry mode.")

    def client(self, service: str) -> Any:
        return _client(service, region=self.region, endpoint_url=self.endpoint_url, max_attempts=self.max_attempts)

    def call(self, api: str, action: str, resource: str, /, **kwargs: Any) -> dict[str, Any]:
        """``client(api).<action>(**kwargs)``; any failure becomes an AwsError naming ``resource``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client(api), action)(**kwargs)
        except (ClientError, BotoCoreError) as error:
            raise describe_failure(error, action, resource) from error


def poll(
    read: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float, sleep: Callable[[float], None]
) -> tuple[bool, T]:
    """Call ``read`` until ``done`` holds or ``timeout`` seconds of sleeps have passed; returns (done, last)."""
    waited = 0.0
    value = read()
    while not done(value):
        if waited >= timeout:
            return False, value
        sleep(interval)
        waited += interval
        value = read()
    return True, value

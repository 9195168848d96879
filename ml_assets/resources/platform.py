"""The serving platform: where the staging and production environments live, one subclass per platform.

``deployment.platform`` in the config names the subclass (``PLATFORMS``): the embedded default runs a gateway and
model-server processes on 127.0.0.1, ``aws`` runs ECS services behind an ALB. A new platform is a new subclass and
one line in ``PLATFORMS``.
"""

from __future__ import annotations

import importlib
from abc import abstractmethod
from typing import TYPE_CHECKING

from dagster import ConfigurableResource

from ml_assets.rollout.backend import ServingBackend
from ml_assets.rollout.state import StateStore

if TYPE_CHECKING:
    from ml_assets.config import PipelineConfig
    from ml_assets.settings import Settings

# deployment.platform -> the subclass (imported when chosen: the AWS one pulls in boto3).
PLATFORMS = {
    "local": "ml_assets.resources.local_platform:LocalServingPlatform",
    "aws": "ml_assets.resources.aws.platform:AwsServingPlatform",
}


class ServingPlatform(ConfigurableResource):
    """The environments' serving backends and where their rollout states are kept."""

    @classmethod
    @abstractmethod
    def from_config(cls, settings: Settings, config: PipelineConfig) -> ServingPlatform:
        """The platform as the config's deployment section sets it up."""

    @abstractmethod
    def backend(self, environment: str) -> ServingBackend:
        """The environment's backend as configured."""

    @abstractmethod
    def live_backend(self, environment: str) -> ServingBackend:
        """The environment's backend where it last ran (for status and stop)."""

    @abstractmethod
    def state_store(self) -> StateStore:
        """Where rollout states live (the next deployment run reconciles an unfinished one)."""

    @abstractmethod
    def stop(self) -> str:
        """Stop what this machine runs for the platform; says what was done."""


def serving_platform(settings: Settings, config: PipelineConfig) -> ServingPlatform:
    """The platform ``deployment.platform`` names."""
    module, _, name = PLATFORMS[config.deployment.platform].partition(":")
    platform: type[ServingPlatform] = getattr(importlib.import_module(module), name)
    return platform.from_config(settings, config)

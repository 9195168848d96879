"""Where a model is trained: an external process started through Dagster Pipes, which reports the model's
materialization and its gates back to the run. One abstract class, one subclass per engine, chosen by the config's
``training.compute``: a child process on this machine (the default) or an ECS task of its own on AWS
(``resources/aws/compute.py``), sized per algorithm by Terraform. The run launcher keeps isolating runs; this lets one
step use more than the task its run was given."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from importlib import import_module
from typing import Any

from dagster import AssetExecutionContext, ConfigurableResource, PipesClientCompletedInvocation, PipesSubprocessClient

from ml_assets.config import PipelineConfig

# The module every engine runs: it trains, registers and gates one algorithm (ml_assets.training.external).
TRAINING_COMMAND = ("python", "-m", "ml_assets.training.external")


class TrainingCompute(ConfigurableResource, ABC):
    """Runs the training process for one algorithm and returns what it reported."""

    storage: str  # where asset values are stored (the IO manager's location): the process reads its data there

    @classmethod
    def from_config(cls, config: PipelineConfig, *, storage: str) -> TrainingCompute:
        """This engine as the config sets it up."""
        return cls(storage=storage)

    @abstractmethod
    def run(
        self, context: AssetExecutionContext, *, algorithm: str, extras: dict[str, Any]
    ) -> PipesClientCompletedInvocation:
        """Start the process for ``algorithm`` with ``extras`` (the config, storage, registry, reports) and wait."""


class SubprocessCompute(TrainingCompute):
    """A child process on the machine of the run (PipesSubprocessClient); it inherits the run's environment."""

    def run(
        self, context: AssetExecutionContext, *, algorithm: str, extras: dict[str, Any]
    ) -> PipesClientCompletedInvocation:
        command = [sys.executable, *TRAINING_COMMAND[1:]]
        return PipesSubprocessClient().run(context=context, command=command, extras=extras)


# training.compute -> the subclass (imported when chosen: the AWS one needs boto3 and dagster-aws).
COMPUTE = {
    "subprocess": "ml_assets.resources.compute:SubprocessCompute",
    "ecs": "ml_assets.resources.aws.compute:EcsCompute",
}


def training_compute(config: PipelineConfig, *, storage: str) -> TrainingCompute:
    """The engine the config names, built from its settings; ``storage``: where asset values are."""
    module, name = COMPUTE[config.training.compute].split(":")
    cls = getattr(import_module(module), name)
    return cls.from_config(config, storage=storage)

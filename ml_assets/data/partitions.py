"""The daily partitions of the landing data, shared by every asset that is per day."""

from dagster import DailyPartitionsDefinition

from ml_assets.config import PipelineConfig


def daily_partitions(config: PipelineConfig) -> DailyPartitionsDefinition | None:
    """The config's daily partitions (``dataset.partitions``), or None for an unpartitioned dataset."""
    partitions = config.dataset.partitions
    if partitions is None:
        return None
    return DailyPartitionsDefinition(start_date=partitions.start.isoformat(), timezone=partitions.timezone)

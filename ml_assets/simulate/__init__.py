"""Simulated card transactions with fraud (pure numpy, no I/O)."""

from ml_assets.simulate.transactions import DriftSpec, SimulationSpec, simulate_days

__all__ = ["DriftSpec", "SimulationSpec", "simulate_days"]

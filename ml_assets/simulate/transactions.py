"""The Fraud-Detection-Handbook's transaction simulator, vectorized and deterministic per day.

Customers and terminals sit on a 100 x 100 grid; a customer pays at terminals within ``radius``. Each day a
customer makes Poisson(mean) transactions at N(12:00, 20000 s) with N(mean, mean/2) amounts. Three fraud
scenarios are layered on top (Le Borgne et al., chapter 3): (1) every amount above 220; (2) two terminals
compromised each day, all their transactions fraudulent for 28 days; (3) three customers compromised each day,
a third of their transactions over 14 days multiplied by 5 and fraudulent.

Every day draws from its own random stream (seed, day), so day *d* is identical whether one simulates 10 days
or 200, and new days can be appended later with the same seed. Optional drift from a given date shifts amounts,
opens new terminals and adds a fourth fraud pattern (card testing: bursts of small night-time amounts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml_assets.config import DEFAULT_SEED, HANDBOOK_RADIUS

SECONDS_PER_DAY = 86_400
ID_DAY_STRIDE = 1_000_000  # TRANSACTION_ID = epoch day * stride + position in the day: stable when days are appended

COLUMNS = [
    "TRANSACTION_ID",
    "TX_DATETIME",
    "CUSTOMER_ID",
    "TERMINAL_ID",
    "TX_AMOUNT",
    "TX_TIME_SECONDS",
    "TX_TIME_DAYS",
    "TX_FRAUD",
    "TX_FRAUD_SCENARIO",
]

# Streams of randomness, one per purpose, so adding a feature to one does not reshuffle the others.
_PROFILES, _EVENTS, _TRANSACTIONS, _NEW_TERMINALS, _CARD_TESTING = range(5)


@dataclass(frozen=True)
class DriftSpec:
    """Changes that start on ``start`` and last to the end of the simulation."""

    start: dt.date
    amount_factor: float = 1.0
    new_terminals: int = 0
    card_testing_customers_per_day: int = 0
    card_testing_tx_per_customer: int = 6


@dataclass(frozen=True)
class SimulationSpec:
    customers: int
    terminals: int
    start: dt.date
    days: int
    radius: float = HANDBOOK_RADIUS
    seed: int = DEFAULT_SEED
    terminal_compromises_per_day: int = 2
    terminal_compromise_days: int = 28
    customer_compromises_per_day: int = 3
    customer_compromise_days: int = 14
    amount_fraud_threshold: float = 220.0
    drift: DriftSpec | None = None

    def __post_init__(self) -> None:
        if self.customers <= 0 or self.terminals <= 0 or self.days <= 0:
            raise ValueError("customers, terminals and days must be positive")

    def date_of(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    def drift_day(self) -> int | None:
        return None if self.drift is None else (self.drift.start - self.start).days


def _rng(spec: SimulationSpec, purpose: int, day: int = 0) -> np.random.Generator:
    return np.random.default_rng([spec.seed, purpose, day])


@dataclass(frozen=True)
class _World:
    """Customer and terminal profiles plus, per customer, the terminals within reach (CSR layout)."""

    mean_amount: np.ndarray
    std_amount: np.ndarray
    mean_tx_per_day: np.ndarray
    n_terminals: int
    reach_offsets: np.ndarray
    reach_indices: np.ndarray

    @property
    def reach_counts(self) -> np.ndarray:
        return np.diff(self.reach_offsets)


def _reachable(customer_xy: np.ndarray, terminal_xy: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial import cKDTree  # heavy: only when a simulation runs

    neighbours = cKDTree(terminal_xy).query_ball_point(customer_xy, r=radius)
    counts = np.fromiter((len(n) for n in neighbours), dtype=np.int64, count=len(neighbours))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    indices = np.fromiter((t for n in neighbours for t in sorted(n)), dtype=np.int64, count=int(offsets[-1]))
    return offsets, indices


def _worlds(spec: SimulationSpec) -> tuple[_World, _World | None]:
    """The world before drift and, when drift opens terminals, the world after it."""
    rng = _rng(spec, _PROFILES)
    customer_xy = rng.uniform(0, 100, size=(spec.customers, 2))
    mean_amount = rng.uniform(5, 100, size=spec.customers)
    mean_tx = rng.uniform(0, 4, size=spec.customers)
    terminal_xy = rng.uniform(0, 100, size=(spec.terminals, 2))
    offsets, indices = _reachable(customer_xy, terminal_xy, spec.radius)
    base = _World(mean_amount, mean_amount / 2, mean_tx, spec.terminals, offsets, indices)
    if spec.drift is None or spec.drift.new_terminals == 0:
        return base, None
    new_xy = _rng(spec, _NEW_TERMINALS).uniform(0, 100, size=(spec.drift.new_terminals, 2))
    all_xy = np.vstack([terminal_xy, new_xy])
    offsets, indices = _reachable(customer_xy, all_xy, spec.radius)
    return base, _World(mean_amount, mean_amount / 2, mean_tx, len(all_xy), offsets, indices)


def _compromised(spec: SimulationSpec, day: int, world: _World) -> tuple[np.ndarray, np.ndarray]:
    """Terminals and customers compromised on ``day`` by events of this and earlier days."""
    terminals: list[np.ndarray] = []
    customers: list[np.ndarray] = []
    horizon = max(spec.terminal_compromise_days, spec.customer_compromise_days)
    for event_day in range(max(0, day - horizon + 1), day + 1):
        rng = _rng(spec, _EVENTS, event_day)
        # Terminals are drawn among those that existed on the event day, customers among all.
        n_terms = (
            world.n_terminals if (spec.drift_day() is not None and event_day >= spec.drift_day()) else spec.terminals
        )
        event_terminals = rng.choice(n_terms, size=spec.terminal_compromises_per_day, replace=False)
        event_customers = rng.choice(spec.customers, size=spec.customer_compromises_per_day, replace=False)
        if day - event_day < spec.terminal_compromise_days:
            terminals.append(event_terminals)
        if day - event_day < spec.customer_compromise_days:
            customers.append(event_customers)
    return (
        np.unique(np.concatenate(terminals)) if terminals else np.empty(0, np.int64),
        np.unique(np.concatenate(customers)) if customers else np.empty(0, np.int64),
    )


def _card_testing(spec: SimulationSpec, day: int, world: _World) -> dict[str, np.ndarray]:
    drift = spec.drift
    assert drift is not None
    rng = _rng(spec, _CARD_TESTING, day)
    victims = rng.choice(spec.customers, size=drift.card_testing_customers_per_day, replace=False)
    customers = np.repeat(victims, drift.card_testing_tx_per_customer)
    n = len(customers)
    return {
        "customer": customers,
        "terminal": rng.integers(0, world.n_terminals, size=n),
        "seconds": rng.integers(0, 6 * 3600, size=n).astype(np.float64),
        "amount": np.round(rng.uniform(0.5, 5.0, size=n), 2),
    }


def simulate_day(spec: SimulationSpec, day: int, worlds: tuple[_World, _World | None] | None = None) -> pd.DataFrame:
    """All transactions of simulation day ``day`` (0-based), sorted by time, with the handbook's columns."""
    base, after = worlds or _worlds(spec)
    drift_day = spec.drift_day()
    drifting = drift_day is not None and day >= drift_day
    world = after if (drifting and after is not None) else base

    rng = _rng(spec, _TRANSACTIONS, day)
    reach = world.reach_counts
    counts = rng.poisson(world.mean_tx_per_day)
    counts[reach == 0] = 0  # a customer with no terminal in reach cannot pay
    customer = np.repeat(np.arange(spec.customers), counts)
    n = len(customer)
    seconds = rng.normal(SECONDS_PER_DAY / 2, 20_000, size=n)
    mean = world.mean_amount[customer]
    amount = rng.normal(mean, world.std_amount[customer])
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * mean[negative])
    if drifting and spec.drift is not None:
        amount = amount * spec.drift.amount_factor
    amount = np.round(amount, 2)
    terminal = world.reach_indices[
        world.reach_offsets[customer] + np.floor(rng.uniform(size=n) * reach[customer]).astype(np.int64)
    ]
    keep = (seconds > 0) & (seconds < SECONDS_PER_DAY)
    customer, terminal, seconds, amount = customer[keep], terminal[keep], seconds[keep], amount[keep]

    scenario = np.where(amount > spec.amount_fraud_threshold, 1, 0)
    bad_terminals, bad_customers = _compromised(spec, day, world)
    scenario[np.isin(terminal, bad_terminals)] = 2
    at_risk = np.flatnonzero(np.isin(customer, bad_customers))
    stolen = at_risk[rng.uniform(size=len(at_risk)) < 1 / 3]
    amount[stolen] = np.round(amount[stolen] * 5, 2)
    scenario[stolen] = 3

    if drifting and spec.drift is not None and spec.drift.card_testing_customers_per_day > 0:
        extra = _card_testing(spec, day, world)
        customer = np.concatenate([customer, extra["customer"]])
        terminal = np.concatenate([terminal, extra["terminal"]])
        seconds = np.concatenate([seconds, extra["seconds"]])
        amount = np.concatenate([amount, extra["amount"]])
        scenario = np.concatenate([scenario, np.full(len(extra["customer"]), 4)])

    order = np.argsort(seconds, kind="stable")
    seconds = seconds[order].astype(np.int64)
    date = pd.Timestamp(spec.date_of(day))
    epoch_day = (spec.date_of(day) - dt.date(1970, 1, 1)).days
    return pd.DataFrame(
        {
            "TRANSACTION_ID": epoch_day * ID_DAY_STRIDE + np.arange(len(order), dtype=np.int64),
            "TX_DATETIME": (date + pd.to_timedelta(seconds, unit="s")).astype("datetime64[ns]"),
            "CUSTOMER_ID": customer[order].astype(np.int64),
            "TERMINAL_ID": terminal[order].astype(np.int64),
            "TX_AMOUNT": amount[order].astype(np.float64),
            "TX_TIME_SECONDS": day * SECONDS_PER_DAY + seconds,
            "TX_TIME_DAYS": np.full(len(order), day, dtype=np.int64),
            "TX_FRAUD": (scenario[order] > 0).astype(np.int64),
            "TX_FRAUD_SCENARIO": scenario[order].astype(np.int64),
        },
        columns=COLUMNS,
    )


def simulate_days(
    spec: SimulationSpec, first_day: int = 0, last_day: int | None = None
) -> Iterator[tuple[dt.date, pd.DataFrame]]:
    """Yield (date, transactions) for days ``first_day`` .. ``last_day`` (inclusive; default: the last day)."""
    last = spec.days - 1 if last_day is None else last_day
    if not 0 <= first_day <= last < spec.days:
        raise ValueError(f"days {first_day}..{last} are outside the simulation's 0..{spec.days - 1}")
    worlds = _worlds(spec)
    for day in range(first_day, last + 1):
        yield spec.date_of(day), simulate_day(spec, day, worlds)

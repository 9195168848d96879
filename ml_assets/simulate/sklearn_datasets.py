"""Real datasets that ship inside scikit-learn (no download), as landing data."""

from __future__ import annotations

import re

import pandas as pd


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def load_dataset(name: str, target: str, positive_class: int) -> pd.DataFrame:
    """The dataset with snake_case feature columns and a 0/1 ``target`` (1 = ``positive_class``)."""
    from sklearn import datasets

    loaders = {"breast_cancer": datasets.load_breast_cancer}
    bunch = loaders[name](as_frame=True)
    frame = bunch.data.rename(columns=_snake)
    frame.insert(0, "record_id", range(len(frame)))
    frame[target] = (bunch.target == positive_class).astype("int64")
    return frame

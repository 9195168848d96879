"""The bytes every model is served from, and their digest, kept where only training can write.

MLflow keeps the run, the metrics, the registered versions and their aliases, and a copy of each model for its
users; it does not decide what is served. Training serializes a model once, on its own machine, hashes those bytes
and writes both here (``ML_ASSETS_MODEL_STORE``: ``$ML_ASSETS_HOME/model_store`` locally, an S3 prefix on AWS that
only the pipeline's roles may write and the model servers may only read). Loading reads the same two objects and
refuses bytes whose SHA-256 differs from the digest beside them. So whoever can reach the MLflow server, which has
no say over this prefix, can neither change a served model nor rewrite its digest; and the model servers need not
reach MLflow at all. A version once written is never overwritten.

Models are never unpickled: scikit-learn models are skops files loaded with a reviewed list of types, XGBoost
models its own UBJSON format.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ml_assets.resources.storage import ObjectExistsError, open_store

# Types beyond skops' defaults that our estimators contain; reviewed, and the only ones ever trusted.
SKOPS_TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
]
MODEL_FILES = {"sklearn": "model.skops", "xgboost": "model.ubj"}
RECORD = "digest.json"


class ModelIntegrityError(RuntimeError):
    """A model's bytes do not match the digest written when it was trained, or there is no digest."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ModelStore:
    """``{name}/{version}/model.{skops,ubj}`` and ``{name}/{version}/digest.json`` under one location."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.store = open_store(location)

    def put(self, name: str, version: str, *, flavor: str, data: bytes) -> str:
        """Keep a new version's bytes and their digest; returns the digest. A version already kept is refused."""
        if flavor not in MODEL_FILES:
            raise ValueError(f"{name} v{version}: unknown model flavor {flavor!r} (one of {sorted(MODEL_FILES)})")
        digest = sha256(data)
        record = {"name": name, "version": version, "flavor": flavor, "sha256": digest}
        try:  # created, never replaced (the store refuses an existing name: a local hard link, S3's If-None-Match)
            self.store.create(f"{name}/{version}/{MODEL_FILES[flavor]}", data)
            self.store.create(f"{name}/{version}/{RECORD}", json.dumps(record).encode())  # last: complete
        except ObjectExistsError:
            raise ModelIntegrityError(
                f"{name} v{version} is already in the model store {self.location}: a version is written once. Was "
                "the MLflow registry reset while the model store was kept? Use a new registered model name or a "
                "fresh model store."
            ) from None
        return digest

    def digest(self, name: str, version: str) -> dict[str, str]:
        """The record written at training: flavor and sha256."""
        try:
            record = json.loads(self.store.read(f"{name}/{version}/{RECORD}"))
        except FileNotFoundError:
            raise ModelIntegrityError(
                f"{name} v{version}: no digest in the model store {self.location}; refusing to load a model that "
                "training did not record there (registered elsewhere, or before the model store existed?)"
            ) from None
        if record.get("flavor") not in MODEL_FILES or len(str(record.get("sha256", ""))) != 64:
            raise ModelIntegrityError(f"{name} v{version}: the digest record in {self.location} is malformed")
        return record

    def load(self, name: str, version: str) -> Any:
        """The model, after checking its bytes against its digest; never unpickles."""
        record = self.digest(name, version)
        flavor = record["flavor"]
        data = self.store.read(f"{name}/{version}/{MODEL_FILES[flavor]}")
        actual = sha256(data)
        if actual != record["sha256"]:
            raise ModelIntegrityError(
                f"{name} v{version}: model sha256 {actual[:12]} != recorded {record['sha256'][:12]} "
                f"({self.location}); refusing to load it"
            )
        return deserialize(flavor, data)


def deserialize(flavor: str, data: bytes) -> Any:
    if flavor == "xgboost":
        from xgboost import XGBClassifier

        model = XGBClassifier()
        model.load_model(bytearray(data))
        return model
    import skops.io

    return skops.io.loads(data, trusted=SKOPS_TRUSTED_TYPES)

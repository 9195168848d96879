"""Run a server process: the model server and the gateway start the same way."""

from __future__ import annotations

import gc
from typing import Any


def run_server(app: Any, *, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn on ``host:port`` until stopped.

    Everything loaded before serving (libraries, the model, the routing table) is moved out of the garbage
    collector's reach first: a full collection walks every tracked object, and after its imports a model server
    holds hundreds of thousands, a walk of tens of milliseconds paid by whichever request is in flight
    (benchmarks/serving_tail.py measures it). Frozen, a full collection walks only what serving itself keeps.
    """
    import uvicorn

    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)

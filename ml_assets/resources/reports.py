"""Reports (plots, comparison tables) written to the state folder, linked from asset metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource


class ReportStore(ConfigurableResource):
    base_dir: str

    def write(self, relative: str, content: bytes | str | dict[str, Any]) -> Path:
        target = Path(self.base_dir) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        if isinstance(content, dict):
            tmp.write_text(json.dumps(content, indent=2, default=str))
        elif isinstance(content, str):
            tmp.write_text(content)
        else:
            tmp.write_bytes(content)
        os.replace(tmp, target)
        return target

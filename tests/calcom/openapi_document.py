"""Cal.com's own OpenAPI document (a copy of the reference, checked in under reference/)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "reference" / "calcom-openapi-v2.json"


@cache
def calcom_openapi() -> dict[str, Any]:
    """Fails (never skips) when the document is missing: the contract tests must always run."""
    document: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return document

"""Structured (JSON-lines) logging so hospital log shippers can parse every line."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


WITHHELD = "[row values withheld]"


def _row_details(exc: BaseException | None) -> set[str]:
    """The database's DETAIL lines in an exception chain ("Failing row contains (...)", "Key
    (id)=(...) already exists"): they quote the row's values, which the engine's `hide_parameters`
    does not reach."""
    found: set[str] = set()
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for candidate in (exc, getattr(exc, "orig", None)):
            detail = getattr(getattr(candidate, "diag", None), "message_detail", None)
            if detail:
                found.add(detail)
        exc = exc.__cause__ or exc.__context__
    return found


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        details: set[str] = set()
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
            details = _row_details(record.exc_info[1])
        for detail in details:
            for key, value in payload.items():
                if isinstance(value, str):
                    payload[key] = value.replace(detail, WITHHELD)
        return json.dumps(payload, default=str)


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger("alertdrill")
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False

"""Capturing what an app logger emits: the `alertdrill` loggers do not propagate to the root
logger once the app has configured logging, so pytest's caplog does not see them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def captured(name: str, level: int = logging.NOTSET) -> Iterator[list[logging.LogRecord]]:
    """The records logger `name` emits at `level` or above while the block runs."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)

"""ASGI entry point for uvicorn/gunicorn: `app.asgi:app`."""

from __future__ import annotations

import gc

from app.main import create_app

app = create_app()

# A case page or a decision allocates thousands of short-lived objects (ORM rows, template
# output, request state), so at CPython's default threshold (700 allocations) the cyclic
# collector ran every few requests, each time walking every object the process holds. The app's
# own objects (routes, templates, the simulator's tables) live as long as the process: freeze
# them out of the collector's way, and collect the young generation less often. Measured: about
# 5% of a case page's worker CPU (docs/performance.md).
gc.freeze()
gc.set_threshold(50_000, 50, 100)

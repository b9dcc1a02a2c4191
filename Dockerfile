# Production image for alertdrill: gunicorn managing uvicorn workers.
#
# Installed editable from the source tree on purpose: `alertdrill db upgrade`
# finds alembic.ini and migrations/ next to the app package, so the tree must stay
# whole. Start-up (migrate, then serve) is the `command` in docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ALERTDRILL_ENV=production

WORKDIR /srv/alertdrill
COPY . .

# uvicorn's own `uvicorn.workers` module is deprecated; the worker class now ships
# as `uvicorn-worker` (installed here until pyproject.toml lists it).
RUN pip install -e . "uvicorn-worker>=0.4" \
 && useradd --system --uid 10001 --home-dir /srv/alertdrill --shell /usr/sbin/nologin alertdrill

USER alertdrill
EXPOSE 8000

CMD ["gunicorn", "app.asgi:app", "--worker-class", "uvicorn_worker.UvicornWorker", \
     "--bind", "0.0.0.0:8000", "--forwarded-allow-ips", "*", "--timeout", "60", "--graceful-timeout", "20"]

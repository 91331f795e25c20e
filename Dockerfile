# syntax=docker/dockerfile:1
# Hjertealarm: one image for the web (gunicorn), the Celery worker and beat, and migrations.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# GeoDjango's native libraries (GDAL 3.6, GEOS, PROJ) from Debian bookworm.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gdal-bin libgdal32 libgeos-c1v5 libproj25 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The dependencies exactly as locked, each checked against its hash (a layer of its own, rebuilt
# only when the lock changes); then the project, built with the locked setuptools and adding no
# dependency. Templates, static files, locale and data are read from /app.
COPY requirements/runtime.txt /app/requirements/runtime.txt
RUN pip install --require-hashes -r /app/requirements/runtime.txt
COPY . /app
RUN pip install --no-deps --no-build-isolation /app

# Static files are collected at build time and served by WhiteNoise. The settings need these
# variables to load; the values are placeholders used only by this build step.
RUN APP_MODE=production \
    SECRET_KEY=build-time-placeholder-not-used-at-run-time \
    DATABASE_URL=postgis://build@localhost:5432/build \
    REDIS_URL=redis://:build-placeholder@localhost:6379/0 \
    MAP_TILES='[]' \
    python manage.py collectstatic --noinput --verbosity 0

RUN groupadd --system --gid 10001 hjertealarm \
    && useradd --system --uid 10001 --gid hjertealarm --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin hjertealarm
USER hjertealarm

EXPOSE 8000
# gunicorn as the benchmarks measured it (config/gunicorn.py: gthread, workers × threads, keep-
# alive, the redacting access logger); GUNICORN_* variables override it.
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]

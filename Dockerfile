# The production image: web (gunicorn), Celery worker and beat all run from it (see docker-compose.yml).
# Debian bookworm, named: its postgresql-client is 15, the postgres service's major version (see below).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=ior_platform.settings.production \
    IOR_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media

# WeasyPrint renders dossier PDFs through Pango and HarfBuzz; without the subsetter it embeds whole
# fonts and writes about four times slower. DejaVu is the only font family the templates rely on.
# `manage.py backup` and `restore` run pg_dump and pg_restore from this image: their major version is kept equal
# to the server's (docker-compose.yml runs postgres:15), as pg_dump refuses a newer server. The package is named
# with its version, so a base image whose Debian ships another one fails here, at build time, not at a backup.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
        postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .

# Static files are collected into the image; the key exists only for this step, which production
# settings refuse to run without.
RUN SECRET_KEY="collectstatic-only-$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
        python manage.py collectstatic --noinput \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/var/metrics /app/media \
    && chown -R app:app /app/var /app/media

USER app
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "ior_platform.wsgi"]

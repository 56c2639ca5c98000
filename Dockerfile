# mailbot: a slim image running `mailbot run` as a non-root user.
#
# Two volumes, kept apart on purpose: /app/storage holds the database and mail, /app/keys the
# master key. Back them up separately; a copy of the database without the key reveals nothing,
# and the key alone is useless. With PostgreSQL, only /app/keys (and the Maildirs) stay local.
#
#   docker run -v mailbot-data:/app/storage -v mailbot-keys:/app/keys mailbot
#   # or give the key in the environment instead of the keys volume:
#   docker run -e MAILBOT_MASTER_KEY=... -v mailbot-data:/app/storage mailbot
#
# Bind-mounted folders must be writable by uid 10001 (`chown 10001 DIR`), or run the container
# with `--user $(id -u):$(id -g)` — mailbot needs no other account.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY mailbot ./mailbot
RUN pip install . && useradd --system --home-dir /app --uid 10001 mailbot \
    && mkdir -p /app/storage /app/keys && chown mailbot:mailbot /app/storage /app/keys \
    && chmod 0700 /app/keys

USER mailbot
VOLUME ["/app/storage", "/app/keys"]
ENV MAILBOT_STORAGE__KEY_FILE=/app/keys/master.key
# The embedded SMTP listener has no authentication: it stays on loopback inside the container.
# To feed it from a border MTA, publish the port on a private network only and set
# MAILBOT_LISTENER__HOST=0.0.0.0 MAILBOT_LISTENER__PRIVATE_NETWORK=true (see docs/configuration.md).
HEALTHCHECK --interval=60s --timeout=20s --start-period=60s --retries=3 CMD ["mailbot", "health"]
CMD ["sh", "-c", "mailbot init && exec mailbot run"]

# mailbot: a slim image running `mailbot run` as a non-root user; storage/ is a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY mailbot ./mailbot
COPY rules ./rules
COPY templates ./templates
RUN pip install . && useradd --system --home-dir /app --uid 10001 mailbot \
    && mkdir -p /app/storage && chown mailbot:mailbot /app/storage

USER mailbot
VOLUME ["/app/storage"]
EXPOSE 8025
# Inside a container the listener must bind beyond loopback to be reachable.
ENV MAILBOT_LISTENER__HOST=0.0.0.0
CMD ["sh", "-c", "mailbot init && exec mailbot run"]

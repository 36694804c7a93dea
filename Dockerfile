# One image for the four services; docker-compose.yml picks the service with its command:
#   python -m services.intake | services.matching | services.charity | services.ledger
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The project is installed as a package (migrations and policy files are package data), so the
# source tree is not needed at run time and is removed after the install.
WORKDIR /src
COPY . .
RUN pip install . && rm -rf /src

RUN useradd --system --uid 10001 --create-home --home-dir /home/hub --shell /usr/sbin/nologin hub \
    && mkdir -p /app/data && chown -R hub:hub /app
WORKDIR /app
USER hub

# intake 8001, matching 8002, charity 8003, ledger 8004 (HUB_<SERVICE>_HTTP_PORT overrides)
EXPOSE 8001 8002 8003 8004
STOPSIGNAL SIGTERM
CMD ["python", "-c", "import sys; sys.exit('choose a service: python -m services.<intake|matching|charity|ledger>')"]

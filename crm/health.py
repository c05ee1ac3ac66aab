"""Whether the services the CRM cannot work without answer: PostgreSQL, and Redis (the cache and the
Celery broker). Read by ``/healthz`` for the load balancer and the container's health check."""

import logging

import redis
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import connection

logger = logging.getLogger(__name__)


def _postgresql_answers() -> bool:
    # A dead server fails within the connection's connect_timeout (DB_CONNECT_TIMEOUT).
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError as error:
        logger.warning("health check: PostgreSQL does not answer: %s", error)
        return False


def _redis_urls() -> list[str]:
    """The distinct Redis servers in use: the cache's and the Celery broker's."""
    location = settings.CACHES["default"].get("LOCATION") or []
    urls = [location] if isinstance(location, str) else list(location)
    urls.append(settings.CELERY_BROKER_URL)
    found = []
    for url in urls:
        url = url.replace("redis+socket://", "unix://", 1)
        if url.split("://", 1)[0] in ("redis", "rediss", "unix") and url not in found:
            found.append(url)
    return found


def _redis_answers(url: str) -> bool:
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return client.ping() is True
    except (redis.RedisError, OSError) as error:
        logger.warning("health check: Redis does not answer: %s", error)
        return False
    finally:
        client.close()


def services_down() -> list[str]:
    """The names of the services that do not answer ("postgresql", "redis"); empty when all do."""
    down = []
    if not _postgresql_answers():
        down.append("postgresql")
    if not all(_redis_answers(url) for url in _redis_urls()):
        down.append("redis")
    return down

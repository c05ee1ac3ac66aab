"""A Redis cache that fails open: when Redis is down or slow, a read is a miss and a write is
skipped (both logged), so every page that uses the cache keeps rendering.

After a failure the cache does not try Redis again for ``RETRY_AFTER_SECONDS``, so a Redis that
hangs costs one short socket timeout, not one per cache call of every request.
"""

import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5.0
_MISSING = object()


class FailOpenRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` that treats connection errors as misses."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._down_until = 0.0

    def _guard(self, operation: str, call, default):
        if time.monotonic() < self._down_until:
            return default
        try:
            return call()
        except (RedisError, OSError) as error:
            self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
            logger.warning("cache unavailable (%s during %s); serving without it", error, operation)
            return default

    def add(self, key, value, timeout=None, version=None):
        return self._guard("add", lambda: super(FailOpenRedisCache, self).add(key, value, timeout, version), False)

    def get(self, key, default=None, version=None):
        return self._guard("get", lambda: super(FailOpenRedisCache, self).get(key, default, version), default)

    def set(self, key, value, timeout=None, version=None):
        self._guard("set", lambda: super(FailOpenRedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key, timeout=None, version=None):
        return self._guard("touch", lambda: super(FailOpenRedisCache, self).touch(key, timeout, version), False)

    def delete(self, key, version=None):
        return self._guard("delete", lambda: super(FailOpenRedisCache, self).delete(key, version), False)

    def get_many(self, keys, version=None):
        return self._guard("get_many", lambda: super(FailOpenRedisCache, self).get_many(keys, version), {})

    def has_key(self, key, version=None):
        return self._guard("has_key", lambda: super(FailOpenRedisCache, self).has_key(key, version), False)

    def incr(self, key, delta=1, version=None):
        # A counter that cannot be read is missing, as Django's caches say it: ValueError.
        value = self._guard("incr", lambda: super(FailOpenRedisCache, self).incr(key, delta, version), _MISSING)
        if value is _MISSING:
            raise ValueError(f"Key '{key}' not found.")
        return value

    def set_many(self, data, timeout=None, version=None):
        return self._guard(
            "set_many", lambda: super(FailOpenRedisCache, self).set_many(data, timeout, version), list(data)
        )

    def delete_many(self, keys, version=None):
        self._guard("delete_many", lambda: super(FailOpenRedisCache, self).delete_many(keys, version), None)

    def clear(self):
        return self._guard("clear", lambda: super(FailOpenRedisCache, self).clear(), False)

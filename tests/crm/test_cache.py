"""The cache fails open: with Redis down, reads miss and writes are skipped, logged, no error."""

import logging
import socket
import time

import pytest
from django.core.cache import caches

from crm.cache import FailOpenRedisCache


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the probe is: nobody listens there


def test_the_default_cache_is_the_fail_open_one_with_short_timeouts(settings):
    assert isinstance(caches["default"], FailOpenRedisCache)
    assert settings.CACHES["default"]["OPTIONS"] == {"socket_connect_timeout": 1, "socket_timeout": 1}


def test_a_cache_whose_redis_is_down_misses_and_logs_instead_of_raising(caplog):
    cache = FailOpenRedisCache(f"redis://127.0.0.1:{closed_port()}/0", {"OPTIONS": {"socket_connect_timeout": 1}})

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="crm.cache"):
        cache.set("page", "html")
        assert cache.get("page", "fallback") == "fallback"
        assert cache.add("lock", 1) is False
        assert cache.get_many(["a", "b"]) == {}
        assert cache.delete("page") is False
        assert cache.get_or_set("figure", 42) == 42
    elapsed = time.monotonic() - started

    # One failed connection, then Redis is left alone for a few seconds: no warning per call.
    assert [record.getMessage().split(" (")[0] for record in caplog.records] == ["cache unavailable"]
    assert elapsed < 1


def test_a_counter_in_a_cache_whose_redis_is_down_is_missing():
    cache = FailOpenRedisCache(f"redis://127.0.0.1:{closed_port()}/0", {})

    with pytest.raises(ValueError, match=r"^Key 'attempts' not found\.$"):
        cache.incr("attempts")


def test_the_cache_works_while_redis_is_up():
    cache = caches["default"]
    cache.delete_many(["fault-test-key", "fault-test-counter"])

    cache.set("fault-test-key", "value", 30)
    assert cache.add("fault-test-counter", 1, 30) is True
    assert cache.incr("fault-test-counter") == 2
    assert cache.get_many(["fault-test-key", "fault-test-counter"]) == {
        "fault-test-key": "value",
        "fault-test-counter": 2,
    }

    cache.delete_many(["fault-test-key", "fault-test-counter"])
    assert cache.get("fault-test-key") is None

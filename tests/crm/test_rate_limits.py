"""Rate limits (counters in Redis): log-ins per address, searches per user (pages and API), the SMS
webhooks per address; each answers 429 with a clear message once passed."""

import pytest

pytestmark = pytest.mark.django_db

TOO_MANY = "短时间内请求过多，请稍等一分钟后再试。"


def test_log_in_attempts_are_limited_per_address(client, settings, advisor_a):
    settings.RATE_LIMITS = [{**settings.RATE_LIMITS[0], "rate": "3/m"}]
    for _attempt in range(3):
        assert client.post("/accounts/login/", {"username": "nobody", "password": "x"}).status_code == 200
    response = client.post("/accounts/login/", {"username": "advisor_a", "password": "pw-for-tests-1"})
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert TOO_MANY in response.content.decode()
    assert "_auth_user_id" not in client.session
    # The page itself (GET) is not counted, and another address is not limited.
    assert client.get("/accounts/login/").status_code == 200
    other = type(client)(REMOTE_ADDR="10.0.0.7")
    assert other.post("/accounts/login/", {"username": "advisor_a", "password": "pw-for-tests-1"}).status_code == 302


def test_the_token_endpoint_shares_the_log_in_limit(api_client, settings):
    settings.RATE_LIMITS = [{**settings.RATE_LIMITS[0], "rate": "2/m"}]
    for _attempt in range(2):
        api_client.post("/api/token/", {"username": "nobody", "password": "x"}, format="json")
    response = api_client.post("/api/token/", {"username": "nobody", "password": "x"}, format="json")
    assert response.status_code == 429
    assert response.json() == {"detail": TOO_MANY}


def test_customer_searches_are_limited_per_user(client, settings, advisor_a, agent_a):
    settings.RATE_LIMITS = [{**rule, "rate": "2/m"} for rule in settings.RATE_LIMITS]
    client.force_login(advisor_a)
    assert client.get("/customers/", {"q": "王"}).status_code == 200
    assert client.get("/customers/", {"q": "李"}).status_code == 200
    response = client.get("/customers/", {"q": "张"})
    assert response.status_code == 429
    assert TOO_MANY in response.content.decode()
    # Browsing the list without a search is not a search; another user has their own count.
    assert client.get("/customers/").status_code == 200
    client.force_login(agent_a)
    assert client.get("/customers/", {"q": "张"}).status_code == 200


def test_api_searches_are_limited_per_user(api_client, settings, advisor_a):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"search": "2/m"}}
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        api_client.force_authenticate(advisor_a)
        assert api_client.get("/api/customers/", {"search": "王"}).status_code == 200
        assert api_client.get("/api/customers/", {"search": "李"}).status_code == 200
        response = api_client.get("/api/customers/", {"search": "张"})
        assert response.status_code == 429
        assert response.json()["detail"].startswith("短时间内搜索次数过多，请稍等一分钟后再试。")
        assert api_client.get("/api/customers/").status_code == 200  # a plain list is not a search
    finally:
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


@pytest.mark.parametrize("path", ["/followups/sms/inbound/", "/followups/sms/delivery/"])
def test_the_sms_webhooks_are_limited_per_address(client, settings, path):
    settings.SMS_INBOUND_TOKEN = "hook-token"
    settings.RATE_LIMITS = [{**rule, "rate": "2/m"} for rule in settings.RATE_LIMITS]
    for _attempt in range(2):
        response = client.post(path, "{}", content_type="application/json", HTTP_X_SMS_TOKEN="hook-token")
        assert response.status_code == 400
    response = client.post(path, "{}", content_type="application/json", HTTP_X_SMS_TOKEN="hook-token")
    assert response.status_code == 429
    assert response.json() == {"detail": TOO_MANY}


def test_a_malformed_rate_stops_start_up_with_one_line(monkeypatch):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "RATE_LIMIT_SEARCH": "lots"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "RATE_LIMIT_SEARCH='lots' is not a rate: write it as 20/m (per s, m, h or d)." in result.stderr


def test_behind_the_proxy_the_address_it_appended_counts(rf, settings):
    from crm.middleware import client_ip

    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.CLIENT_IP_FROM_X_FORWARDED_FOR = False
    assert client_ip(request) == "10.0.0.1"
    settings.CLIENT_IP_FROM_X_FORWARDED_FOR = True
    assert client_ip(request) == "203.0.113.9"  # the spoofable first entry is ignored
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"


def test_behind_the_proxy_each_client_has_its_own_log_in_count(client, settings):
    settings.CLIENT_IP_FROM_X_FORWARDED_FOR = True
    settings.RATE_LIMITS = [{**settings.RATE_LIMITS[0], "rate": "1/m"}]
    first = {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    second = {"HTTP_X_FORWARDED_FOR": "203.0.113.10"}
    assert client.post("/accounts/login/", {"username": "a", "password": "x"}, **first).status_code == 200
    assert client.post("/accounts/login/", {"username": "a", "password": "x"}, **first).status_code == 429
    assert client.post("/accounts/login/", {"username": "a", "password": "x"}, **second).status_code == 200


def test_with_redis_down_log_ins_and_searches_still_work(client, settings, advisor_a):
    # Nothing listens on port 9: every cache call fails as when Redis is stopped.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    response = client.post("/accounts/login/", {"username": "advisor_a", "password": "pw-for-tests-1"})
    assert response.status_code == 302
    assert client.get("/customers/", {"q": "王"}).status_code == 200


@pytest.mark.parametrize("remote_addr", ["", "not-an-address", "10.0.0.1/32"])
def test_a_caller_without_a_usable_address_is_counted_not_a_server_error(rf, settings, remote_addr):
    from crm.middleware import UNKNOWN_CLIENT_IP, client_ip

    settings.CLIENT_IP_FROM_X_FORWARDED_FOR = False
    request = rf.get("/", REMOTE_ADDR=remote_addr)

    assert client_ip(request) == UNKNOWN_CLIENT_IP

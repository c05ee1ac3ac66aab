"""Redis stopped and started again under a real gunicorn and a real Celery worker: pages keep
serving, a complaint submitted meanwhile is saved and says its notice will follow, and once Redis is
back the worker resumes by itself and the notice goes out exactly once."""

import http.cookiejar
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.test import Client

from complaints.models import Complaint, StoreComplaintSettings
from crm.choices import Role
from tests.complaints.factories import ComplaintTypeFactory
from tests.factories import CustomerFactory, StoreFactory, UserFactory
from tests.faults.conftest import (
    Inbox,
    control_app,
    smtp_env,
    start_gunicorn,
    start_worker,
    stop_process,
    wait_for,
)

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


class Browser:
    """A minimal HTTP client with cookies, on one user's session (made in the test database)."""

    def __init__(self, base_url: str, session_key: str | None = None) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        if session_key:
            self.cookies.set_cookie(_cookie("sessionid", session_key))

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base_url + path, data=body, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def csrf_token(self) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")


def _cookie(name: str, value: str) -> http.cookiejar.Cookie:
    return http.cookiejar.Cookie(
        0, name, value, None, False, "127.0.0.1", False, False, "/", True, False, None, False, None, None, {}
    )


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_pages_and_complaints_keep_working_while_redis_is_down(own_redis, smtp_server, tmp_path):
    store = StoreFactory(code="NJ01", name="江宁店")
    agent = UserFactory(username="agent_a", role=Role.CALL_AGENT, stores=[store])
    manager = UserFactory(username="manager_a", role=Role.MANAGER, stores=[store])
    StoreComplaintSettings.objects.create(store=store, service_manager=manager, general_manager=manager)
    customer = CustomerFactory(store=store, customer_no="CA0001", name="张伟", mobile="13812341234")
    attitude = ComplaintTypeFactory(name="服务态度")
    inbox = Inbox()
    env = smtp_env(smtp_server(inbox))
    gunicorn, base_url = start_gunicorn(redis_url=own_redis.url, log=tmp_path / "gunicorn.log", extra_env=env)
    worker = start_worker(redis_url=own_redis.url, log=tmp_path / "worker.log", extra_env=env)
    try:
        as_agent = Browser(base_url, session_of(agent))
        assert as_agent.request(f"/customers/{customer.pk}/")[0] == 200
        assert as_agent.request("/complaints/new/")[0] == 200  # sets the CSRF cookie

        own_redis.stop()

        assert Browser(base_url).request("/accounts/login/")[0] == 200
        assert as_agent.request(f"/customers/{customer.pk}/")[0] == 200
        assert as_agent.request("/followups/queue/")[0] == 200
        started = time.monotonic()
        status, page = as_agent.request(
            "/complaints/new/",
            {
                "csrfmiddlewaretoken": as_agent.csrf_token(),
                "customer_no": "CA0001",
                "channel": "phone",
                "department": "service",
                "complaint_type": attitude.pk,
                "severity": "high",
                "description": "Redis 宕机时提交的投诉",
            },
        )
        answered_in = time.monotonic() - started

        complaint = Complaint.objects.get()
        assert status == 200  # the complaint's page, after the redirect
        assert f"投诉 #{complaint.pk} 已保存。" in page
        assert "将在几分钟内自动补发。请勿重复提交。" in page
        assert answered_in < 5
        assert (complaint.description, complaint.notified_at) == ("Redis 宕机时提交的投诉", None)
        assert re.search(r"<h1[^>]*data-complaint", page)

        own_redis.start()
        restarted = time.monotonic()
        beat = control_app(own_redis.url)

        def tick_until_sent() -> bool:
            beat.send_task("complaints.tasks.complaints_send_pending_emails")  # the minutely beat tick
            return wait_for(lambda: len(inbox.accepted) >= 1, timeout=2)

        assert wait_for(tick_until_sent, timeout=60, interval=0)
        resumed_in = time.monotonic() - restarted
        for _tick in range(2):  # later ticks send nothing more
            beat.send_task("complaints.tasks.complaints_send_pending_emails")
        time.sleep(3)
    finally:
        stop_process(worker)
        stop_process(gunicorn)

    assert resumed_in < 60
    [message] = inbox.accepted
    assert message.rcpt_tos == [manager.email]
    assert f"#{complaint.pk}".encode() in message.content
    complaint.refresh_from_db()
    assert complaint.notified_at is not None
    assert Complaint.objects.count() == 1

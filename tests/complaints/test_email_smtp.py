"""Routing and escalation e-mails through a real SMTP server (aiosmtpd) on loopback."""

import datetime
import email
import socket
from email.header import decode_header, make_header

import pytest
import time_machine
from aiosmtpd.controller import Controller

from complaints import services
from complaints.choices import Channel, Department, Severity
from tests.complaints.factories import local

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_inbox(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()


def subject_of(envelope) -> str:
    message = email.message_from_bytes(envelope.content)
    return str(make_header(decode_header(message["Subject"])))


def test_routing_and_escalation_travel_through_smtp(
    smtp_inbox, agent_a, customer_a, attitude, routing_a, django_capture_on_commit_callbacks
):
    received = local(2026, 11, 24, 10, 0)
    with time_machine.travel(received, tick=False), django_capture_on_commit_callbacks(execute=True):
        complaint = services.complaint_create(
            actor=agent_a,
            customer=customer_a,
            channel=Channel.HOTLINE_800,
            department=Department.SERVICE,
            complaint_type=attitude,
            severity=Severity.CRITICAL,
            description="三次返修仍未解决",
        )

    [intake] = smtp_inbox.envelopes
    assert sorted(intake.rcpt_tos) == ["gm_a@example.com", "manager_a@example.com"]
    assert f"#{complaint.pk}" in subject_of(intake)

    later = received + datetime.timedelta(minutes=65)
    for _run in range(2):
        with time_machine.travel(later, tick=False), django_capture_on_commit_callbacks(execute=True):
            services.complaints_flag_breaches(now=later)

    assert len(smtp_inbox.envelopes) == 2
    escalation = smtp_inbox.envelopes[1]
    assert sorted(escalation.rcpt_tos) == ["chairman@example.com", "gm_a@example.com", "manager_a@example.com"]
    assert f"#{complaint.pk}" in subject_of(escalation)
    body = email.message_from_bytes(escalation.content).get_payload(decode=True).decode()
    assert "三次返修仍未解决" in body

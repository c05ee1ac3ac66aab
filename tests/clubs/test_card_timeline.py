"""The points ledger's lines on the card's timeline (clubs' timeline source), with their unit."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_card_s_timeline_shows_the_member_s_points(client, advisor_a, member_a):
    client.force_login(advisor_a)

    response = client.get(reverse("customers:detail", args=[member_a.customer_id]), HTTP_ACCEPT_LANGUAGE="zh-hans")

    points = [(event.title, event.date_only) for event in response.context["timeline"] if event.kind == "points"]
    assert points == [("初始余额 · +1200 积分", True)]
    assert 'data-kind="points"' in response.content.decode()

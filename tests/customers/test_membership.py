"""customers.membership: the registry through which the owners' club shows on the card, in the
search results and the call panel, and feeds the segments and points_expiry; without a provider
everything reads the DMS strings on the card."""

import pytest
from django.db import connection

from customers import membership
from customers.membership import MemberBadge, membership_badges
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_providers(monkeypatch):
    monkeypatch.setattr(membership, "registered_functions", lambda attribute: [])


def test_without_a_provider_the_badge_is_the_dms_strings(store_a, no_providers, django_assert_num_queries):
    gold = CustomerFactory(store=store_a, member_tier="金卡", member_card_no="M1", points_balance=300)
    plain = CustomerFactory(store=store_a)

    with django_assert_num_queries(0):
        badges = membership_badges(customers=[gold, plain])

    assert badges == {
        gold.pk: MemberBadge(tier_label="金卡", is_vip=True, points_balance=300, card_no="M1"),
        plain.pk: MemberBadge(),
    }


def test_without_a_provider_the_sql_reads_the_card(store_a, no_providers):
    customer = CustomerFactory(store=store_a, member_tier="银卡", points_balance=300)

    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT {membership.member_tier_sql(customer="c", day="%(day)s::date")},
                       {membership.points_on_sql(customer="c", day="%(day)s::date")}
                FROM customers_customer c WHERE c.id = %(id)s""",
            {"day": "2026-11-23", "id": customer.pk},
        )
        assert cursor.fetchone() == ("银卡", None)


def test_a_provider_answers_for_its_members_and_the_card_for_the_rest(store_a, monkeypatch):
    member = CustomerFactory(store=store_a, member_tier="银卡")
    other = CustomerFactory(store=store_a, member_tier="金卡")
    asked = []

    def provider(*, customers):
        asked.append([customer.pk for customer in customers])
        return {member.pk: MemberBadge(tier_label="钻石", is_vip=True, from_club=True)}

    monkeypatch.setattr(membership, "registered_functions", lambda attribute: [provider])

    badges = membership_badges(customers=[member, other])

    assert asked == [[member.pk, other.pk]]
    assert badges[member.pk] == MemberBadge(tier_label="钻石", is_vip=True, from_club=True)
    assert badges[other.pk] == MemberBadge(tier_label="金卡", is_vip=True)
    assert membership_badges(customers=[]) == {}

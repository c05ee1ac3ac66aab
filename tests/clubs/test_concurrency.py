"""Racing desks on real PostgreSQL, with threads (each its own connection and transaction): a
balance is never overdrawn, and a reference sent many times at once counts once."""

import datetime
import io
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from clubs.models import Membership, PointsAllocation, PointsEntry, WalletEntry
from clubs.services import points_redeem, wallet_spend, wallet_top_up
from crm.choices import Role
from crm.exceptions import ApplicationError
from tests.factories import CustomerFactory, StoreFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desk():
    """A started club (S 30 days ago) with one member holding a 1,000-point opening lot, and the
    advisors of ten desks."""
    store = StoreFactory(code="NJ01")
    customer = CustomerFactory(store=store, customer_no="A0001", points_balance=1000)
    started = timezone.localdate() - datetime.timedelta(days=30)
    VehicleFactory(customer=customer, delivery_date=started - datetime.timedelta(days=100))
    call_command("club_start", "--store", store.code, "--date", started.isoformat(), stdout=io.StringIO())
    advisors = [
        UserFactory(username=f"advisor{number}", role=Role.SERVICE_ADVISOR, stores=[store]) for number in range(10)
    ]
    return Membership.objects.get(customer=customer), advisors


def race(work, arguments: list) -> list:
    """Run ``work(argument)`` for every argument at once (a barrier releases the threads together);
    each result, or the exception raised, in the order of ``arguments``."""
    barrier = threading.Barrier(len(arguments))
    results: list = [None] * len(arguments)

    def run(index, argument):
        try:
            barrier.wait()
            results[index] = work(argument)
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, argument)) for index, argument in enumerate(arguments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def outcomes(results) -> Counter:
    return Counter(type(result).__name__ for result in results)


def ledger_sum(member) -> int:
    return PointsEntry.objects.filter(membership=member).aggregate(total=Sum("points"))["total"]


def test_ten_redemptions_racing_on_one_balance_never_overdraw(desk):
    member, advisors = desk

    results = race(
        lambda index: points_redeem(membership=member, points=150, reference=f"V{index}", user=advisors[index]),
        list(range(10)),
    )

    # 1,000 points pay for six redemptions of 150; the other four are refused with the reason.
    assert outcomes(results) == Counter({"PointsEntry": 6, "ApplicationError": 4})
    assert {str(result) for result in results if isinstance(result, ApplicationError)} == {
        "可用积分仅 100，不能扣减 150。"
    }
    member.refresh_from_db()
    assert (member.points_balance, ledger_sum(member)) == (100, 100)
    assert PointsEntry.objects.filter(membership=member, kind="redemption").count() == 6
    # Every redeemed point came out of the one lot, and no more than it held.
    assert PointsAllocation.objects.aggregate(total=Sum("points"))["total"] == 900


def test_two_redemptions_of_most_of_the_balance_racing_one_wins(desk):
    member, advisors = desk

    results = race(
        lambda index: points_redeem(membership=member, points=600, reference=f"V{index}", user=advisors[index]),
        [0, 1],
    )

    assert outcomes(results) == Counter({"PointsEntry": 1, "ApplicationError": 1})
    member.refresh_from_db()
    assert (member.points_balance, ledger_sum(member)) == (400, 400)


def test_wallet_spends_racing_never_go_negative(desk):
    member, advisors = desk
    wallet_top_up(membership=member, amount="2000", reference="PAY-1", user=advisors[0])

    results = race(
        lambda index: wallet_spend(membership=member, amount="300", reference=f"RO-{index}", user=advisors[index]),
        list(range(10)),
    )

    assert outcomes(results) == Counter({"WalletEntry": 6, "ApplicationError": 4})
    member.refresh_from_db()
    assert member.wallet_balance == Decimal("200.00")
    spends = WalletEntry.objects.filter(membership=member, kind="spend")
    assert (spends.count(), spends.aggregate(total=Sum("amount"))["total"]) == (6, Decimal("1800.00"))
    # Each spend's balance_after is one step of 2,000 → 200: no two saw the same balance.
    assert sorted(spends.values_list("balance_after", flat=True)) == [
        Decimal(amount) for amount in ("200.00", "500.00", "800.00", "1100.00", "1400.00", "1700.00")
    ]


def api_post(user, path: str, payload: dict) -> int:
    client = APIClient()
    client.force_authenticate(user)
    return client.post(path, payload, format="json").status_code


def test_the_same_top_up_reference_sent_by_ten_desks_pays_once(desk):
    member, advisors = desk
    path = f"/api/members/{member.pk}/top-ups/"

    statuses = race(lambda user: api_post(user, path, {"amount": "1500", "reference": "PAY-7"}), advisors)

    assert Counter(statuses) == Counter({201: 1, 200: 9})
    member.refresh_from_db()
    assert (member.wallet_balance, WalletEntry.objects.filter(membership=member).count()) == (Decimal("1500.00"), 1)


def test_the_same_redemption_reference_sent_twice_at_once_redeems_once(desk):
    member, advisors = desk
    path = f"/api/members/{member.pk}/redemptions/"

    for round_ in range(5):
        statuses = race(lambda user: api_post(user, path, {"points": 100, "reference": f"V{round_}"}), advisors[:2])  # noqa: B023
        assert sorted(statuses) == [200, 201]

    assert PointsEntry.objects.filter(membership=member, kind="redemption").count() == 5
    member.refresh_from_db()
    assert (member.points_balance, ledger_sum(member)) == (500, 500)


def test_one_reference_racing_with_two_amounts_is_one_entry_and_a_409(desk):
    member, advisors = desk
    path = f"/api/members/{member.pk}/redemptions/"

    statuses = race(
        lambda points: api_post(advisors[points // 100], path, {"points": points, "reference": "V1"}), [100, 200]
    )

    assert sorted(statuses) == [201, 409]
    entry = PointsEntry.objects.get(membership=member, kind="redemption")
    member.refresh_from_db()
    assert member.points_balance == 1000 + entry.points

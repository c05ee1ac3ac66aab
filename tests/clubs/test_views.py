"""The club's pages: the members list, a member's page and its desk, the club's settings — who may
do what (exact status codes), store scope, each desk action end to end with exact balances, bad
input answered in words, and the pages' pinned query counts."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone, translation

from clubs.choices import EntryKind, Tier, TierChangeKind, WalletEntryKind
from clubs.models import Membership, PointsEntry, StoreClub, TierChange, TierRule, WalletEntry
from clubs.services import points_redeem
from crm.choices import AuditAction
from crm.models import AuditLog
from tests.clubs.conftest import club_start_day, start_club
from tests.factories import CustomerFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english_messages(settings):
    """These tests read messages by their English msgids (tests/crm/test_translations.py checks that
    the Chinese catalogue translates every one of them); a test that wants Chinese overrides it."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


TOKEN = "0123456789abcdef0123456789abcdef"
NOT_A_CHOICE = "Select a valid choice. %s is not one of the available choices."


def member_url(member, name="member"):
    return reverse(f"clubs:{name}", args=[member.pk])


def flashed(response) -> list[str]:
    """The message this response added (earlier ones wait in the cookie until a page shows them)."""
    return [str(message) for message in get_messages(response.wsgi_request)][-1:]


def form_errors(response, form_name) -> list[str]:
    form = response.context[form_name]
    return [str(error) for errors in form.errors.values() for error in errors]


def ledger(member) -> list[tuple]:
    return list(
        PointsEntry.objects.filter(membership=member).order_by("id").values_list("kind", "points", "reference", "note")
    )


# --- who may do what ------------------------------------------------------------------------


@pytest.fixture
def nobody_a(store_a):
    return UserFactory(username="nobody_a", stores=[store_a])


@pytest.mark.parametrize(
    ("persona", "pages", "redeem", "top_up", "adjust", "lifetime", "settings_page"),
    [
        ("advisor_a", 200, 302, 302, 403, 403, 403),
        ("sales_a", 200, 403, 403, 403, 403, 403),
        ("agent_a", 200, 403, 403, 403, 403, 403),
        ("manager_a", 200, 302, 302, 302, 302, 302),
        ("admin_user", 200, 302, 302, 302, 302, 200),
        ("nobody_a", 403, 403, 403, 403, 403, 403),
    ],
)
def test_each_role_sees_and_does_what_clubs_apps_grants(
    client, request, member_a, persona, pages, redeem, top_up, adjust, lifetime, settings_page
):
    client.force_login(request.getfixturevalue(persona))

    statuses = (
        client.get(reverse("clubs:members")).status_code,
        client.get(member_url(member_a)).status_code,
        client.post(member_url(member_a, "redeem"), {"points": "10", "token": TOKEN}).status_code,
        client.post(member_url(member_a, "top_up"), {"amount": "1500", "reference": "P1"}).status_code,
        client.post(member_url(member_a, "adjust"), {"points": "5", "reason": "补录", "token": TOKEN}).status_code,
        client.post(member_url(member_a, "lifetime_fee"), {"reference": "R1"}).status_code,
        client.get(reverse("clubs:settings")).status_code,
    )

    assert statuses == (pages, pages, redeem, top_up, adjust, lifetime, settings_page)


def test_the_top_bar_shows_members_to_the_desk_and_settings_to_managers(client, advisor_a, manager_a):
    client.force_login(advisor_a)
    advisor_bar = client.get(reverse("home")).content.decode()
    client.force_login(manager_a)
    manager_bar = client.get(reverse("home")).content.decode()

    assert ('href="/club/"' in advisor_bar, 'href="/club/settings/"' in advisor_bar) == (True, False)
    assert ('href="/club/"' in manager_bar, 'href="/club/settings/"' in manager_bar) == (True, True)


def test_another_stores_member_is_a_404_to_see_and_to_work_on(client, manager_b, member_a):
    client.force_login(manager_b)

    assert client.get(member_url(member_a)).status_code == 404
    assert client.post(member_url(member_a, "redeem"), {"points": "10", "token": TOKEN}).status_code == 404
    adjust = {"points": "10", "reason": "x", "token": TOKEN}
    assert client.post(member_url(member_a, "adjust"), adjust).status_code == 404
    assert client.get(reverse("clubs:store_settings", args=[member_a.store_id])).status_code == 404
    assert client.post(reverse("clubs:rules", args=[member_a.store_id]), {}).status_code == 404
    assert ledger(member_a) == [("opening", 1200, "", "")]


def test_the_list_shows_only_the_users_stores_members(client, advisor_a, member_a, member_b):
    client.force_login(advisor_a)

    response = client.get(reverse("clubs:members"))

    assert [member.pk for member in response.context["page"].object_list] == [member_a.pk]


# --- the members list -------------------------------------------------------------------------


@pytest.fixture
def three_members(store_a):
    """Three members of store A: 王芳 (银卡, 800 points, a plate), 刘洋 (普通, 50), 张伟 (金卡, 1200)."""
    people = [
        ("CA0001", "张伟", "金卡", 1200, "苏A12345", "VIP0001"),
        ("CA0002", "王芳", "银卡", 800, "苏A88888", "VIP0002"),
        ("CA0003", "刘洋", "", 50, "苏A66666", ""),
    ]
    for number, name, tier, points, plate, card in people:
        customer = CustomerFactory(
            store=store_a, customer_no=number, name=name, member_tier=tier, points_balance=points, member_card_no=card
        )
        VehicleFactory(customer=customer, plate_no=plate, delivery_date=club_start_day() - datetime.timedelta(days=9))
    start_club(store_a)
    return {member.customer.customer_no: member for member in Membership.objects.select_related("customer")}


def listed(client, **query) -> list[str]:
    response = client.get(reverse("clubs:members"), query)
    assert response.status_code == 200
    return [member.customer.customer_no for member in response.context["page"].object_list]


def test_the_list_searches_and_filters(client, advisor_a, three_members):
    client.force_login(advisor_a)

    assert listed(client) == ["CA0003", "CA0001", "CA0002"]  # by card number: MNJ01000001, VIP0001, VIP0002
    assert listed(client, q="王芳") == ["CA0002"]
    assert listed(client, q="ca0003") == ["CA0003"]
    assert listed(client, q="VIP0001") == ["CA0001"]
    assert listed(client, q="苏A66666") == ["CA0003"]
    assert listed(client, tier=str(Tier.SILVER.value)) == ["CA0002"]
    assert listed(client, balance_min="100", balance_max="1000") == ["CA0002"]
    assert listed(client, sort="-balance") == ["CA0001", "CA0002", "CA0003"]
    assert listed(client, sort="balance") == ["CA0003", "CA0002", "CA0001"]
    # All three joined on the club's first day: a tie, ordered by card, reversed with the day.
    assert len({member.joined_on for member in three_members.values()}) == 1
    assert listed(client, sort="joined") == ["CA0003", "CA0001", "CA0002"]
    assert listed(client, sort="-joined") == ["CA0002", "CA0001", "CA0003"]
    assert listed(client, expiring="on") == ["CA0003", "CA0001", "CA0002"]
    # Redeeming CA0003's 50 points consumes the lot: nothing of it is left to expire.
    points_redeem(membership=three_members["CA0003"], points=50, reference="V1", user=advisor_a)
    assert listed(client, expiring="on") == ["CA0001", "CA0002"]


def test_the_list_shows_discount_points_expiring_and_stored_value(client, advisor_a, three_members):
    client.force_login(advisor_a)

    response = client.get(reverse("clubs:members"), {"q": "张伟"})
    row = response.content.decode().split('data-member="')[1].split("</tr>")[0]

    assert response.context["page"].object_list[0].points_expiring == 1200
    assert f'<a href="/club/members/{three_members["CA0001"].pk}/" class="mono">VIP0001</a>' in row
    assert '<td data-label="Labour discount">7折</td>' in row
    assert 'data-field="points">1200 points<' in row
    assert 'data-field="expiring">1200 points<' in row
    assert "¥0.00" in row


def test_bad_filters_are_reported_and_left_out(client, advisor_a, three_members):
    client.force_login(advisor_a)

    response = client.get(reverse("clubs:members"), {"balance_min": "abc", "tier": "9", "store": "999"})
    wrong_range = client.get(reverse("clubs:members"), {"balance_min": "900", "balance_max": "100"})

    assert response.status_code == 200
    assert sorted(form_errors(response, "form")) == [
        "Enter a whole number.",
        "Select a valid choice. 9 is not one of the available choices.",
        "Select a valid choice. 999 is not one of the available choices.",
    ]
    assert len(response.context["page"].object_list) == 3
    assert form_errors(wrong_range, "form") == ["The lowest balance cannot be above the highest."]
    assert len(wrong_range.context["page"].object_list) == 3


def test_a_store_whose_club_has_not_started_explains_and_offers_managers_to_start_it(
    client, advisor_a, manager_a, store_a
):
    client.force_login(advisor_a)
    advisor_page = client.get(reverse("clubs:members")).content.decode()
    client.force_login(manager_a)
    manager_page = client.get(reverse("clubs:members")).content.decode()

    assert "The owners' club of 江宁店 has not started" in advisor_page
    assert "No store of yours has started its club yet." in advisor_page
    assert "data-start-club" not in advisor_page
    assert f'<a href="/club/settings/{store_a.pk}/" data-start-club="{store_a.pk}">Start the club</a>' in manager_page


def test_the_list_is_paginated_with_a_pinned_number_of_queries(
    client, advisor_a, three_members, django_assert_num_queries
):
    client.force_login(advisor_a)
    client.get(reverse("clubs:members"))

    # session, the user (with their role, permissions and store IDs: crm/auth_backends.py), the
    # stores with their clubs (2), the count, the page of members (with discount and expiring points).
    with django_assert_num_queries(6):
        response = client.get(reverse("clubs:members"), {"sort": "-balance"})
    with django_assert_num_queries(7):  # + the search's customer look-up
        client.get(reverse("clubs:members"), {"q": "张伟"})

    assert response.context["page"].paginator.count == 3


def test_past_the_cap_the_list_shows_the_databases_estimate_in_one_query_more(
    client, advisor_a, three_members, monkeypatch, django_assert_num_queries
):
    """A group's million members are not counted on every page: exact up to the cap, then
    PostgreSQL's estimate (one EXPLAIN), said to be one; every member stays reachable page by page."""
    from clubs import views
    from crm.api import pagination

    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    client.force_login(advisor_a)
    client.get(reverse("clubs:members"))

    with django_assert_num_queries(7):  # the 6 above, the count stopping at the cap + the estimate
        first = client.get(reverse("clubs:members"))
    second = client.get(reverse("clubs:members"), {"page": 2})

    html = first.content.decode()
    assert first.context["page"].paginator.count_is_estimate is True
    assert "data-count-estimate" in html
    assert "About " in html
    members = [m.pk for m in first.context["page"].object_list] + [m.pk for m in second.context["page"].object_list]
    assert sorted(members) == sorted(member.pk for member in three_members.values())
    assert second.context["page"].has_next() is False


# --- the member's page --------------------------------------------------------------------------


def test_the_member_page_shows_tier_benefits_points_and_the_customer_card_link(client, advisor_a, member_a):
    Membership.objects.filter(pk=member_a.pk).update(credit_card_bank="招商银行")
    client.force_login(advisor_a)

    html = client.get(member_url(member_a)).content.decode()

    assert '<span class="badge tier-2 vip" data-tier="2">Gold</span>' in html
    assert '<dd data-field="discount">7折</dd>' in html
    assert "优先预约（VIP绿色通道）" in html
    assert '<dd data-field="points-balance">1200 points</dd>' in html
    assert '<dd data-field="points-expiring">1200 points</dd>' in html
    assert 'data-badge="birthday"' in html
    assert "Credit-card member (招商银行)" in html
    assert f'href="/customers/{member_a.customer_id}/"' in html
    assert "data-dms-difference" not in html


def test_the_member_page_in_chinese_says_the_unit_and_the_discount(client, advisor_a, member_a):
    client.force_login(advisor_a)
    with translation.override("zh-hans"):
        html = client.get(member_url(member_a), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert '<dd data-field="points-balance">1200 积分</dd>' in html
    assert '<dd data-field="tier">金卡</dd>' in html
    assert '<dd data-field="discount">7折</dd>' in html


def test_a_dms_export_that_disagrees_after_s_is_shown_as_a_difference(client, advisor_a, member_a):
    member_a.customer.__class__.objects.filter(pk=member_a.customer_id).update(member_tier="银卡", points_balance=900)
    client.force_login(advisor_a)

    html = client.get(member_url(member_a)).content.decode()

    assert "The DMS says the tier is 银卡, the CRM Gold." in html
    assert "The DMS says 900 points, the CRM 1200 points." in html
    assert (Membership.objects.get(pk=member_a.pk).tier, ledger(member_a)) == (Tier.GOLD, [("opening", 1200, "", "")])


def test_the_member_page_has_a_pinned_number_of_queries(client, advisor_a, member_a, django_assert_num_queries):
    client.force_login(advisor_a)
    client.get(member_url(member_a))

    # session, the user (with their role, permissions and store IDs), the member, the ledger's count,
    # tier rule, expiring points, wallet, the ledger's page, tier history.
    with django_assert_num_queries(9):
        client.get(member_url(member_a))
    PointsEntry.objects.bulk_create(
        PointsEntry(membership=member_a, kind=EntryKind.ATTENDANCE, on=timezone.localdate(), points=10,
                    expires_on=timezone.localdate() + datetime.timedelta(days=300), reference=f"E{index}")
        for index in range(30)
    )  # fmt: skip
    with django_assert_num_queries(9):
        response = client.get(member_url(member_a), {"page": "2"})

    assert (response.context["page"].paginator.count, len(response.context["page"].object_list)) == (31, 11)


# --- the desk ---------------------------------------------------------------------------------


def test_an_advisor_redeems_points_and_the_ledger_and_balance_show_it(client, advisor_a, member_a):
    client.force_login(advisor_a)

    response = client.post(member_url(member_a, "redeem"), {"points": "200", "reference": "V001", "token": TOKEN})

    assert (response.status_code, response["Location"]) == (302, member_url(member_a))
    assert flashed(response) == ["200 points redeemed (reference V001)."]
    assert Membership.objects.get(pk=member_a.pk).points_balance == 1000
    assert ledger(member_a) == [("opening", 1200, "", ""), ("redemption", -200, "V001", "")]
    html = client.get(member_url(member_a)).content.decode()
    assert '<dd data-field="points-balance">1000 points</dd>' in html
    assert '<dd data-field="points-expiring">1000 points</dd>' in html


def test_a_double_submitted_redemption_makes_one_entry(client, advisor_a, member_a):
    client.force_login(advisor_a)
    form = {"points": "300", "reference": "", "token": TOKEN}

    first = client.post(member_url(member_a, "redeem"), form)
    second = client.post(member_url(member_a, "redeem"), form)

    assert (first.status_code, second.status_code) == (302, 302)
    assert ledger(member_a) == [("opening", 1200, "", ""), ("redemption", -300, f"D{TOKEN}", "")]
    assert Membership.objects.get(pk=member_a.pk).points_balance == 900


@pytest.mark.parametrize(
    ("points", "error"),
    [
        ("-5", "Ensure this value is greater than or equal to 1."),
        ("0", "Ensure this value is greater than or equal to 1."),
        ("abc", "Enter a whole number."),
        ("", "This field is required."),
        ("5000", "Only 1200 points are available; 5000 cannot be taken."),
    ],
)
def test_a_bad_redemption_is_refused_in_words(client, advisor_a, member_a, points, error):
    client.force_login(advisor_a)

    response = client.post(member_url(member_a, "redeem"), {"points": points, "token": TOKEN})

    assert response.status_code == 400
    assert form_errors(response, "redeem_form") == [error]
    assert "data-form-error" in response.content.decode() or "has-error" in response.content.decode()
    assert ledger(member_a) == [("opening", 1200, "", "")]


def test_a_refusal_is_shown_in_chinese(client, advisor_a, member_a):
    client.force_login(advisor_a)
    with translation.override("zh-hans"):
        response = client.post(
            member_url(member_a, "redeem"), {"points": "5000", "token": TOKEN}, HTTP_ACCEPT_LANGUAGE="zh-hans"
        )

    assert response.status_code == 400
    assert form_errors(response, "redeem_form") == ["可用积分仅 1200，不能扣减 5000。"]


def test_a_forged_token_is_refused(client, advisor_a, member_a):
    client.force_login(advisor_a)

    response = client.post(member_url(member_a, "redeem"), {"points": "10", "token": "<script>"})

    assert form_errors(response, "redeem_form") == ["This form has expired: reload the page and enter it again."]


def test_top_up_makes_diamond_and_spend_pays_from_the_stored_value(client, advisor_a, member_a):
    client.force_login(advisor_a)

    top_up = client.post(member_url(member_a, "top_up"), {"amount": "2000", "reference": "PAY-1"})
    again = client.post(member_url(member_a, "top_up"), {"amount": "2000", "reference": "PAY-1"})
    spend = client.post(member_url(member_a, "spend"), {"amount": "350.50", "reference": "RO2026001"})

    assert (top_up.status_code, again.status_code, spend.status_code) == (302, 302, 302)
    assert flashed(top_up) == ["¥2000.00 topped up; the stored value is ¥2000.00."]
    assert flashed(spend) == ["¥350.50 paid from the stored value; ¥1649.50 left."]
    member = Membership.objects.get(pk=member_a.pk)
    assert (member.wallet_balance, member.tier) == (Decimal("1649.50"), Tier.DIAMOND)
    entries = WalletEntry.objects.filter(membership=member).order_by("id")
    assert list(entries.values_list("kind", "amount", "reference")) == [
        (WalletEntryKind.TOPUP, Decimal("2000.00"), "PAY-1"),
        (WalletEntryKind.SPEND, Decimal("350.50"), "RO2026001"),
    ]
    html = client.get(member_url(member_a)).content.decode()
    assert '<dd data-field="wallet-balance">¥1649.50</dd>' in html


@pytest.mark.parametrize(
    ("view", "form", "error"),
    [
        ("top_up", {"amount": "100", "reference": "P1"}, "A top-up is between ¥1500.00 and ¥10000.00."),
        ("top_up", {"amount": "-1500", "reference": "P1"}, "Ensure this value is greater than or equal to 0.01."),
        ("top_up", {"amount": "lots", "reference": "P1"}, "Enter a number."),
        ("top_up", {"amount": "1500", "reference": ""}, "This field is required."),
        ("spend", {"amount": "10", "reference": "RO1"}, "The stored value is ¥0.00; ¥10.00 cannot be spent."),
    ],
)
def test_bad_stored_value_input_is_refused_in_words(client, advisor_a, member_a, view, form, error):
    client.force_login(advisor_a)

    response = client.post(member_url(member_a, view), form)

    assert response.status_code == 400
    assert form_errors(response, "topup_form" if view == "top_up" else "spend_form") == [error]
    assert WalletEntry.objects.count() == 0


def test_a_manager_adjusts_points_with_a_reason_and_a_double_click_counts_once(client, manager_a, member_a):
    client.force_login(manager_a)

    credit = {"points": "300", "reason": "车主活动补录", "token": TOKEN}
    first = client.post(member_url(member_a, "adjust"), credit)
    client.post(member_url(member_a, "adjust"), credit)
    debit = client.post(member_url(member_a, "adjust"), {"points": "-100", "reason": "重复积分冲销", "token": "f" * 32})

    assert (first.status_code, debit.status_code) == (302, 302)
    assert flashed(first) == ["+300 points recorded."]
    assert ledger(member_a) == [
        ("opening", 1200, "", ""),
        ("credit", 300, f"A{TOKEN}", "车主活动补录"),
        ("debit", -100, f"A{'f' * 32}", "重复积分冲销"),
    ]
    assert Membership.objects.get(pk=member_a.pk).points_balance == 1400
    # Every post is audited (the replayed one too); the ledger has each adjustment once.
    assert AuditLog.objects.filter(action=AuditAction.CLUB_POINTS, actor=manager_a).count() == 3
    assert "车主活动补录" in client.get(member_url(member_a)).content.decode()


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"points": "100", "reason": ""}, "This field is required."),
        ({"points": "0", "reason": "x"}, "Enter a whole number of points other than zero."),
        ({"points": "1.5", "reason": "x"}, "Enter a whole number."),
        ({"points": "-2000", "reason": "x"}, "Only 1200 points are available; 2000 cannot be taken."),
    ],
)
def test_a_bad_adjustment_is_refused_in_words(client, manager_a, member_a, form, error):
    client.force_login(manager_a)

    response = client.post(member_url(member_a, "adjust"), {**form, "token": TOKEN})

    assert response.status_code == 400
    assert form_errors(response, "adjust_form") == [error]
    assert ledger(member_a) == [("opening", 1200, "", "")]


def test_a_manager_sets_a_tier_with_a_reason_and_records_a_lifetime_fee(client, manager_a, member_a):
    client.force_login(manager_a)

    no_reason = client.post(member_url(member_a, "tier"), {"tier": "1", "reason": " "})
    lower = client.post(member_url(member_a, "tier"), {"tier": "1", "reason": "DMS等级录入错误"})
    lifetime = client.post(member_url(member_a, "lifetime_fee"), {"reference": "SJ-0001"})

    assert (no_reason.status_code, lower.status_code, lifetime.status_code) == (400, 302, 302)
    assert form_errors(no_reason, "tier_form") == ["This field is required."]
    assert flashed(lower) == ["The tier is now Silver."]
    assert flashed(lifetime) == ["The lifetime fee is recorded; the member is Lifetime VIP."]
    assert list(
        TierChange.objects.filter(membership=member_a).order_by("id").values_list("kind", "tier", "reason", "reference")
    ) == [
        (TierChangeKind.OPENING, Tier.GOLD, "", ""),
        (TierChangeKind.MANUAL, Tier.SILVER, "DMS等级录入错误", ""),
        (TierChangeKind.LIFETIME, Tier.LIFETIME, "", "SJ-0001"),
    ]
    html = client.get(member_url(member_a)).content.decode()
    assert "DMS等级录入错误" in html
    assert 'id="lifetime-form"' not in html


# --- the club's settings ----------------------------------------------------------------------


def test_a_manager_starts_the_club_from_the_page_once(client, manager_a, store_a):
    customer = CustomerFactory(store=store_a, customer_no="CA0009", member_tier="银卡", points_balance=700)
    VehicleFactory(customer=customer, delivery_date=datetime.date(2025, 6, 1))
    client.force_login(manager_a)
    url = reverse("clubs:start", args=[store_a.pk])

    page = client.get(reverse("clubs:settings"))
    started = client.post(url, {"started_on": "2025-12-01"})
    again = client.post(url, {"started_on": "2026-01-01"})
    no_date = client.post(reverse("clubs:start", args=[store_a.pk]), {"started_on": "soon"})

    assert (page.status_code, page["Location"]) == (302, f"/club/settings/{store_a.pk}/")
    assert started.status_code == 302
    assert flashed(started) == ["The club of 江宁店 started on 2025-12-01: 1 members joined."]
    assert (again.status_code, form_errors(again, "start_form")) == (
        400,
        ["The club of NJ01 started on 2025-12-01 already; it cannot be started again."],
    )
    assert form_errors(no_date, "start_form") == ["Enter a valid date."]
    member = Membership.objects.get(customer=customer)
    assert (member.tier, member.points_balance) == (Tier.SILVER, 700)
    assert AuditLog.objects.filter(action=AuditAction.CLUB_START).values_list("object_ids", "detail").get() == (
        [str(store_a.pk)],
        {"started_on": "2025-12-01", "members": 1, "points": 700},
    )


def rules_form(**changes) -> dict:
    form = {
        "points_per_amount": "50", "silver_spend": "5000", "gold_spend": "15000", "diamond_topup": "1500",
        "topup_min": "1500", "topup_max": "10000", "points_valid_months": "12", "referral_points": "500",
        "referral_window_days": "180",
    }  # fmt: skip
    return {**form, **changes}


def test_a_manager_changes_the_rules_and_the_history_says_who_and_what(client, manager_a, member_a, store_a):
    client.force_login(manager_a)

    saved = client.post(reverse("clubs:rules", args=[store_a.pk]), rules_form(silver_spend="6000"))
    tier = client.post(
        reverse("clubs:tier_rule", args=[store_a.pk, Tier.SILVER]),
        {"tier1-points_rate": "2", "tier1-labour_discount": "0.85", "tier1-benefits": "工时费8.5折"},
    )

    assert (saved.status_code, tier.status_code) == (302, 302)
    assert flashed(saved) == ["The club's rules are saved."]
    assert StoreClub.objects.get(store=store_a).silver_spend == Decimal("6000")
    rule = TierRule.objects.get(store=store_a, tier=Tier.SILVER)
    assert (rule.labour_discount, rule.benefits) == (Decimal("0.85"), "工时费8.5折")
    page = client.get(reverse("clubs:store_settings", args=[store_a.pk]))
    changes = [(change.subject, change.user, change.changes) for change in page.context["history"] if change.changes]
    assert changes == [
        ("Silver", manager_a, [("labour price paid", Decimal("0.95"), Decimal("0.85")),
                               ("benefits", "工时费9.5折；生日当月工时5折；24小时救援热线", "工时费8.5折")]),
        ("store club", manager_a, [("silver: qualifying spend in 12 months", Decimal("5000.00"), Decimal("6000.00"))]),
    ]  # fmt: skip
    assert '<h3>Silver <span class="muted">8.5折</span></h3>' in page.content.decode()
    audited = AuditLog.objects.filter(action=AuditAction.CHANGE_SETTINGS).order_by("id")
    assert list(audited.values_list("object_type", "detail")) == [
        ("clubs.storeclub", {"silver_spend": "6000.00"}),
        ("clubs.tierrule", {"labour_discount": "0.85", "benefits": "工时费8.5折"}),
    ]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"silver_spend": "20000"}, "The silver threshold cannot be above the gold one."),
        ({"topup_min": "20000"}, "The smallest top-up cannot be above the largest."),
        ({"points_valid_months": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"points_per_amount": "abc"}, "Enter a number."),
    ],
)
def test_bad_rules_are_refused_in_words(client, manager_a, member_a, store_a, changes, error):
    client.force_login(manager_a)

    response = client.post(reverse("clubs:rules", args=[store_a.pk]), rules_form(**changes))

    assert response.status_code == 400
    assert form_errors(response, "rules_form") == [error]
    assert StoreClub.objects.get(store=store_a).silver_spend == Decimal("5000")


def test_a_bad_tier_rule_is_refused_in_words(client, manager_a, member_a, store_a):
    client.force_login(manager_a)

    response = client.post(
        reverse("clubs:tier_rule", args=[store_a.pk, Tier.GOLD]),
        {"tier2-points_rate": "-1", "tier2-labour_discount": "1.5", "tier2-benefits": ""},
    )

    assert response.status_code == 400
    assert sorted(form_errors(response, "tier_form")) == [
        "Ensure this value is greater than or equal to 0.",
        "Ensure this value is less than or equal to 1.",
    ]
    assert TierRule.objects.get(store=store_a, tier=Tier.GOLD).labour_discount == Decimal("0.70")


def test_the_services_refuse_bad_settings_without_the_form(manager_a, member_a, store_a):
    from clubs.services import store_club_update, tier_rule_update
    from crm.exceptions import ApplicationError

    club = StoreClub.objects.get(store=store_a)
    with pytest.raises(ApplicationError) as refused:
        store_club_update(store_club=club, user=manager_a, gold_spend=Decimal("1000"))
    with pytest.raises(ApplicationError) as negative:
        store_club_update(store_club=club, user=manager_a, diamond_topup=Decimal("-1"))
    with pytest.raises(ApplicationError) as discount:
        tier_rule_update(
            tier_rule=TierRule.objects.get(store=store_a, tier=Tier.GOLD), user=manager_a, labour_discount=Decimal("0")
        )

    assert refused.value.message == "The silver threshold cannot be above the gold one."
    assert negative.value.message == "diamond: one top-up of at least: enter an amount above zero."
    assert discount.value.message == "labour price paid: Ensure this value is greater than or equal to 0.1."
    assert StoreClub.objects.get(store=store_a).gold_spend == Decimal("15000")


def test_an_admin_of_every_store_picks_the_store_first(client, admin_user, store_a, store_b, member_a):
    client.force_login(admin_user)

    response = client.get(reverse("clubs:settings"))

    assert response.status_code == 200
    assert [(store.code, store.started_club is not None) for store in response.context["stores"]] == [
        ("NJ01", True),
        ("NJ02", False),
    ]


# --- admin ------------------------------------------------------------------------------------


def test_the_admin_lists_only_the_users_members_and_changes_rules_through_the_service(
    client, manager_a, member_a, member_b, store_a
):
    staff = manager_a
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    staff.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="clubs", codename__in=["view_pointsentry"])
    )
    client.force_login(staff)

    members = client.get("/admin/clubs/membership/")
    other = client.get(f"/admin/clubs/membership/{member_b.pk}/change/")
    entries = client.get("/admin/clubs/pointsentry/")
    club_history = client.get(f"/admin/clubs/storeclub/{store_a.pk}/history/")
    other_club = client.get(f"/admin/clubs/storeclub/{member_b.store_id}/change/")
    change = client.post(
        f"/admin/clubs/tierrule/{TierRule.objects.get(store=store_a, tier=Tier.REGULAR).pk}/change/",
        {"points_rate": "2", "labour_discount": "0.90", "benefits": "工时费9折"},
    )

    assert (members.status_code, other.status_code, entries.status_code) == (200, 404, 200)
    assert (club_history.status_code, other_club.status_code, change.status_code) == (200, 404, 302)
    assert [row.pk for row in members.context["cl"].result_list] == [member_a.pk]
    assert [row.membership_id for row in entries.context["cl"].result_list] == [member_a.pk]
    assert TierRule.objects.get(store=store_a, tier=Tier.REGULAR).labour_discount == Decimal("0.90")
    assert AuditLog.objects.filter(action=AuditAction.CHANGE_SETTINGS, actor=staff).count() == 1


# --- odd input and races --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"balance_max": "1" + "0" * 20}, "Ensure this value is less than or equal to 1000000000."),
        ({"page": "abc", "sort": "nonsense"}, "Select a valid choice. nonsense is not one of the available choices."),
        ({"q": "x" * 101}, "Ensure this value has at most 100 characters (it has 101)."),
    ],
)
def test_odd_list_input_is_a_message_not_an_error(client, advisor_a, member_a, query, error):
    client.force_login(advisor_a)

    response = client.get(reverse("clubs:members"), query)

    assert response.status_code == 200
    assert form_errors(response, "form") == [error]
    assert [member.pk for member in response.context["page"].object_list] == [member_a.pk]


@pytest.mark.parametrize(
    ("view", "form", "form_name", "error"),
    [
        (
            "redeem",
            {"points": "1" + "0" * 15, "token": TOKEN},
            "redeem_form",
            "Ensure this value is less than or equal to 10000000.",
        ),
        ("top_up", {"amount": "NaN", "reference": "P"}, "topup_form", "Enter a number."),
        (
            "top_up",
            {"amount": "1e12", "reference": "P"},
            "topup_form",
            "Ensure that there are no more than 12 digits in total.",
        ),
        ("tier", {"tier": "9", "reason": "x"}, "tier_form", NOT_A_CHOICE % 9),
    ],
)
def test_odd_desk_input_is_a_message_not_an_error(client, manager_a, member_a, view, form, form_name, error):
    client.force_login(manager_a)

    response = client.post(member_url(member_a, view), form)

    assert response.status_code == 400
    assert form_errors(response, form_name) == [error]


@pytest.mark.django_db(transaction=True)
def test_two_posts_of_one_redemption_racing_make_one_entry(advisor_a, member_a):
    import threading

    from django.db import connection
    from django.test import Client

    barrier = threading.Barrier(2)
    statuses = []

    def post():
        client = Client()
        client.force_login(advisor_a)
        barrier.wait()
        statuses.append(client.post(member_url(member_a, "redeem"), {"points": "700", "token": TOKEN}).status_code)
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [302, 302]
    assert ledger(member_a) == [("opening", 1200, "", ""), ("redemption", -700, f"D{TOKEN}", "")]
    assert Membership.objects.get(pk=member_a.pk).points_balance == 500

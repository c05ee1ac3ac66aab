"""Segments: filters, live count and list, exports (permitted roles, logged, formula-safe)."""

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.urls import reverse

from crm.choices import AuditAction
from crm.models import AuditLog
from customers.facts import customer_stats_refresh
from customers.models import CustomerStats, Segment
from customers.segments import segment_count_for_user, segment_customers_for_user, segment_filter
from customers.selectors import customer_queryset_for_user
from customers.services import customer_update
from customers.tasks import refresh_customer_stats
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 11, 22)


@pytest.fixture
def fleet(store_a):
    """Active (visit 2 months ago), dormant (8 months), lost (2 years), one of each brand."""
    active = CustomerFactory(store=store_a, customer_no="A", gender="F", birthday=datetime.date(1990, 1, 1),
                             district="江宁区", member_tier="金卡", source="展厅")  # fmt: skip
    dormant = CustomerFactory(store=store_a, customer_no="D", gender="M", birthday=datetime.date(1970, 1, 1),
                              district="玄武区", source="网络", income_band="high")  # fmt: skip
    lost = CustomerFactory(store=store_a, customer_no="L", gender="M", name='=HYPERLINK("x")', district="-1+1")
    for customer, delivered, settled, amount, brand, series in (
        (active, datetime.date(2026, 3, 1), datetime.date(2026, 9, 22), "900", "东风日产", "轩逸"),
        (dormant, datetime.date(2022, 6, 1), datetime.date(2026, 3, 1), "300", "北京现代", "途胜"),
        (lost, datetime.date(2018, 1, 1), datetime.date(2024, 10, 1), "5000", "东风日产", "轩逸"),
    ):
        vehicle = VehicleFactory(customer=customer, delivery_date=delivered, brand=brand, series=series)
        RepairOrderFactory(vehicle=vehicle, settle_date=settled, total_amount=Decimal(amount))
    customer_stats_refresh(today=TODAY)
    return active, dormant, lost


def numbers(definition, user, *, today=TODAY, store=None):
    """The customer numbers of a segment, checked three ways that must agree: the definition over
    the user's cards, the segment's list (and export) query, and the live count."""
    queryset = segment_filter(customer_queryset_for_user(user), definition, today=today)
    filtered = sorted(queryset.values_list("customer_no", flat=True)) if store is None else None
    segment = Segment(definition=definition, store=store)
    listed = sorted(
        segment_customers_for_user(user=user, segment=segment, today=today).values_list("customer_no", flat=True)
    )
    assert filtered in (None, listed)
    assert segment_count_for_user(user=user, segment=segment, today=today) == len(listed)
    return listed


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ({}, ["A", "D", "L"]),
        ({"activity": ["active"]}, ["A"]),
        ({"activity": ["dormant"]}, ["D"]),
        ({"activity": ["lost"]}, ["L"]),
        ({"activity": ["active", "lost"]}, ["A", "L"]),
        ({"genders": ["M"]}, ["D", "L"]),
        ({"age_bands": ["30_39"]}, ["A"]),
        ({"age_bands": ["50_59"]}, ["D"]),
        ({"districts": ["玄武区"]}, ["D"]),
        ({"sources": ["展厅", "网络"]}, ["A", "D"]),
        ({"brands": ["北京现代"]}, ["D"]),
        ({"lifecycle": ["new"]}, ["A"]),
        ({"lifecycle": ["in_warranty"]}, ["A"]),
        ({"lifecycle": ["out_of_warranty"]}, ["D", "L"]),
        ({"lifecycle": ["replacement"]}, ["D"]),
        ({"value": ["top"]}, ["A"]),
        ({"value": ["low"]}, ["L"]),
        ({"min_spend_12m": "500"}, ["A"]),
        ({"min_visits_12m": 1}, ["A", "D"]),
        ({"member_tiers": ["金卡"]}, ["A"]),
        ({"genders": ["M"], "activity": ["dormant"]}, ["D"]),
        ({"activity": ["dormant", "lost"], "genders": ["M"]}, ["D", "L"]),
        ({"genders": ["F"]}, ["A"]),
        ({"age_bands": ["30_39", "50_59"]}, ["A", "D"]),
        ({"age_bands": ["60_plus"]}, []),
        ({"income_bands": ["high"]}, ["D"]),
        ({"income_bands": ["low", "middle"]}, []),
        ({"districts": ["-1+1"]}, ["L"]),
        ({"districts": ["江宁区", "玄武区"]}, ["A", "D"]),
        ({"sources": ["电话"]}, []),
        ({"brands": ["东风日产"]}, ["A", "L"]),
        ({"brands": ["东风日产"], "activity": ["lost"]}, ["L"]),
        ({"series": ["轩逸"]}, ["A", "L"]),
        ({"series": ["途胜"]}, ["D"]),
        ({"models": ["1.6L 自动舒适版"]}, ["A", "D", "L"]),
        ({"models": ["2.0T"]}, []),
        ({"lifecycle": ["new", "replacement"]}, ["A", "D"]),
        ({"lifecycle": ["in_warranty", "out_of_warranty"]}, ["A", "D", "L"]),
        ({"value": ["middle"]}, ["D"]),
        ({"value": ["top", "low"]}, ["A", "L"]),
        ({"min_spend_12m": "300"}, ["A", "D"]),
        ({"min_spend_12m": "300.01"}, ["A"]),
        ({"min_visits_12m": 2}, []),
        ({"member_tiers": ["银卡", "金卡"]}, ["A"]),
        ({"member_tiers": ["银卡"]}, []),
        ({"genders": ["M"], "brands": ["北京现代"], "lifecycle": ["replacement"], "value": ["middle"]}, ["D"]),
    ],
)
def test_segment_filters(fleet, manager_a, definition, expected):
    assert numbers(definition, manager_a) == expected


def test_stats_follow_the_last_visit_rule_and_the_refresh_is_safe_twice(fleet):
    active, _dormant, _lost = fleet
    stats = CustomerStats.objects.get(customer=active)
    assert (stats.last_visit, stats.spend_12m, stats.visits_12m, stats.latest_delivery) == (
        datetime.date(2026, 9, 22),
        Decimal("900.00"),
        1,
        datetime.date(2026, 3, 1),
    )
    assert stats.warranty_end == datetime.date(2028, 3, 1)  # delivery + 2 years without a DMS value
    assert customer_stats_refresh(today=TODAY) == 0
    with time_machine.travel(datetime.datetime(2026, 11, 22, 12, tzinfo=datetime.UTC)):
        refresh_customer_stats.delay()
        refresh_customer_stats.delay()
    assert CustomerStats.objects.count() == 3


def test_a_refresh_most_of_the_table_writes_builds_the_same_facts_and_indexes(fleet, monkeypatch):
    from crm import bulk

    def facts():
        return sorted(CustomerStats.objects.values_list("customer_id", "last_visit", "spend_12m", "value_tier",
                                                        "vehicle_brands", "latest_delivery"))  # fmt: skip

    expected = facts()
    CustomerStats.objects.all().delete()
    taken = []
    monkeypatch.setattr(bulk, "worth_bulk_loading", lambda cursor, table, *, new_rows: taken.append(table) or True)

    assert customer_stats_refresh(today=TODAY, expected_changes=3) == 3

    assert taken == ["customers_customerstats"]
    assert facts() == expected
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'customers_customerstats'")
        assert cursor.fetchone()[0] == 7  # the primary key and the six segment indexes, built again


def test_manager_saves_a_segment_and_sees_the_live_count_and_list(client, manager_a, store_a, fleet):
    client.force_login(manager_a)

    response = client.post(
        reverse("customers:segment_create"),
        {"name": "男车主", "store": store_a.pk, "genders": ["M"], "districts": "玄武区， 江宁区"},
    )

    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.definition == {"genders": ["M"], "districts": ["玄武区", "江宁区"]}
    detail = client.get(reverse("customers:segment_detail", args=[segment.pk]))
    assert detail.context["page"].paginator.count == 1
    assert [customer.customer_no for customer in detail.context["page"].object_list] == ["D"]


def test_segment_form_refuses_bad_values_with_a_message(client, manager_a, store_a, fleet):
    client.force_login(manager_a)

    response = client.post(
        reverse("customers:segment_create"),
        {"name": "x", "store": store_a.pk, "activity": ["sleeping"], "min_visits_12m": "-1"},
    )

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"activity", "min_visits_12m"}
    assert Segment.objects.count() == 0


def test_advisor_may_not_create_or_export(client, advisor_a, fleet):
    segment = Segment.objects.create(name="全部", definition={})
    client.force_login(advisor_a)

    assert client.post(reverse("customers:segment_create"), {"name": "y"}).status_code == 403
    assert client.get(reverse("customers:segment_export", args=[segment.pk, "csv"])).status_code == 403
    assert Segment.objects.count() == 1
    assert AuditLog.objects.filter(action=AuditAction.EXPORT).count() == 0


def test_csv_export_is_logged_and_formula_safe(client, manager_a, store_a, fleet):
    segment = Segment.objects.create(name="流失", store=store_a, definition={"activity": ["lost"]})
    client.force_login(manager_a)

    response = client.get(reverse("customers:segment_export", args=[segment.pk, "csv"]))

    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    row = text.splitlines()[1]
    assert row.startswith('L,"\'=HYPERLINK(""x"")",男,')
    assert ",'-1+1," in row
    entry = AuditLog.objects.get(action=AuditAction.EXPORT)
    assert (entry.actor, entry.object_ids, entry.detail["rows"], entry.detail["segment"]) == (
        manager_a,
        [str(segment.pk)],
        1,
        "流失",
    )


def test_xlsx_export_escapes_every_formula_trigger(client, manager_a, store_a):
    for index, text in enumerate(["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "plain"]):
        CustomerFactory(store=store_a, customer_no=f"X{index}", name=text)
    customer_stats_refresh(today=TODAY)  # as the import does after bringing cards in
    segment = Segment.objects.create(name="all", store=store_a, definition={})
    client.force_login(manager_a)

    response = client.get(reverse("customers:segment_export", args=[segment.pk, "xlsx"]))

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    # XML reads a stored CR back as LF; what matters is the apostrophe in front.
    assert names == ["'=1+1", "'+1+1", "'-1+1", "'@SUM(A1)", "'\t=1", "'\n=1", "plain"]
    assert all(cell.data_type == "s" for row in sheet.iter_rows(min_row=2) for cell in row if cell.value)
    assert AuditLog.objects.get(action=AuditAction.EXPORT).detail["format"] == "xlsx"


def test_django_import_export_own_escaping_misses_most_triggers():
    """Why exports use crm.exports.spreadsheet_safe: import-export only strips a leading '='."""
    import tablib
    from import_export.formats.base_formats import CSV

    dataset = tablib.Dataset(["=1+1"], ["+1+1"], ["-1+1"], ["@SUM(A1)"], headers=["v"])
    CSV()._escape_formulae(dataset)

    assert [row[0] for row in dataset] == ["1+1", "+1+1", "-1+1", "@SUM(A1)"]


def test_store_b_manager_counts_nothing_of_store_a(client, manager_b, store_b, fleet):
    segment = Segment.objects.create(name="all", store=store_b, definition={})
    client.force_login(manager_b)

    detail = client.get(reverse("customers:segment_detail", args=[segment.pk]))

    assert detail.context["page"].paginator.count == 0


# --- the segment facts: exact after every kind of change ---------------------------------------


def test_brand_and_series_are_of_the_same_car(store_a, manager_a):
    owner = CustomerFactory(store=store_a, customer_no="M")
    VehicleFactory(customer=owner, brand="北京现代", series="途胜", model="2.0T")
    VehicleFactory(customer=owner, brand="东风日产", series="天籁", model="2.0L")
    customer_stats_refresh(today=TODAY)

    assert numbers({"brands": ["北京现代"], "series": ["途胜"]}, manager_a) == ["M"]
    assert numbers({"brands": ["北京现代"], "series": ["天籁"]}, manager_a) == []
    assert numbers({"series": ["天籁"], "models": ["2.0T"]}, manager_a) == []
    assert numbers({"brands": ["东风日产"], "series": ["天籁"], "models": ["2.0L"]}, manager_a) == ["M"]
    assert numbers({"brands": ["北京现代", "东风日产"]}, manager_a) == ["M"]
    stats = CustomerStats.objects.get(customer=owner)
    assert (stats.vehicle_brands, stats.vehicle_series, stats.vehicle_models) == (
        ["东风日产", "北京现代"],
        ["天籁", "途胜"],
        ["2.0L", "2.0T"],
    )


def test_time_filters_compare_with_the_day_of_the_count_not_of_the_refresh(fleet, manager_a):
    later = datetime.date(2027, 4, 22)  # five months on, no refresh in between

    assert numbers({"activity": ["active"]}, manager_a, today=later) == []
    assert numbers({"activity": ["dormant"]}, manager_a, today=later) == ["A"]
    assert numbers({"activity": ["lost"]}, manager_a, today=later) == ["D", "L"]
    assert numbers({"lifecycle": ["new"]}, manager_a, today=later) == []
    assert numbers({"lifecycle": ["replacement"]}, manager_a, today=later) == ["D"]
    assert numbers({"age_bands": ["50_59"]}, manager_a, today=datetime.date(2030, 1, 1)) == []
    assert numbers({"age_bands": ["60_plus"]}, manager_a, today=datetime.date(2030, 1, 1)) == ["D"]


def test_activity_boundaries_are_exact(store_a, manager_a):
    """Active: back on or after today − 6 months; dormant: before that and on or after today − 12
    months; lost: before today − 12 months. L is the latest of settle and delivery dates."""
    for number, settled in (("E6", "2026-05-22"), ("B6", "2026-05-21"), ("E12", "2025-11-22"), ("B12", "2025-11-21")):
        vehicle = VehicleFactory(customer=CustomerFactory(store=store_a, customer_no=number),
                                 delivery_date=datetime.date(2019, 1, 1))  # fmt: skip
        RepairOrderFactory(vehicle=vehicle, settle_date=datetime.date.fromisoformat(settled))
    delivered_only = CustomerFactory(store=store_a, customer_no="DLV")
    VehicleFactory(customer=delivered_only, delivery_date=datetime.date(2026, 6, 1))
    CustomerFactory(store=store_a, customer_no="NONE")  # no car, no visit: in no activity state
    customer_stats_refresh(today=TODAY)

    assert numbers({"activity": ["active"]}, manager_a) == ["DLV", "E6"]
    assert numbers({"activity": ["dormant"]}, manager_a) == ["B6", "E12"]
    assert numbers({"activity": ["lost"]}, manager_a) == ["B12"]
    assert numbers({}, manager_a) == ["B12", "B6", "DLV", "E12", "E6", "NONE"]


def test_a_card_edit_through_the_service_updates_the_segment_at_once(fleet, manager_a):
    _active, dormant, _lost = fleet

    customer_update(customer=dormant, user=manager_a, data={"district": "江宁区", "income_band": "low"})

    assert numbers({"districts": ["江宁区"]}, manager_a) == ["A", "D"]
    assert numbers({"districts": ["玄武区"]}, manager_a) == []
    assert numbers({"income_bands": ["low"]}, manager_a) == ["D"]
    assert numbers({"value": ["middle"]}, manager_a) == ["D"]  # the third is kept until the next full run
    assert customer_stats_refresh(today=TODAY) == 0  # the edit left nothing for the refresh to do


def test_top_secret_cards_count_only_for_the_named_staff(fleet, manager_a, admin_user, django_user_model):
    active, _dormant, _lost = fleet
    customer_update(customer=active, user=manager_a, data={"confidentiality": "top_secret"})

    assert numbers({}, manager_a) == ["D", "L"]
    assert numbers({"member_tiers": ["金卡"]}, manager_a) == []
    assert numbers({}, admin_user) == ["D", "L"]  # every store, but not named on the card
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    assert numbers({}, superuser) == ["A", "D", "L"]

    active.authorized_staff.add(manager_a)

    assert numbers({}, manager_a) == ["A", "D", "L"]
    assert numbers({"member_tiers": ["金卡"]}, manager_a) == ["A"]
    assert numbers({}, admin_user) == ["D", "L"]

    customer_update(customer=active, user=manager_a, data={"confidentiality": "normal"})
    assert numbers({}, admin_user) == ["A", "D", "L"]


def test_store_scope_and_the_segment_store(fleet, store_b, manager_a, manager_b, admin_user):
    other = CustomerFactory(store=store_b, customer_no="B1", gender="M")
    VehicleFactory(customer=other, brand="北京现代", delivery_date=datetime.date(2026, 10, 1))
    customer_stats_refresh(today=TODAY)

    assert numbers({"genders": ["M"]}, manager_a) == ["D", "L"]
    assert numbers({"genders": ["M"]}, manager_b) == ["B1"]
    assert numbers({"genders": ["M"]}, admin_user) == ["B1", "D", "L"]
    assert numbers({"genders": ["M"]}, admin_user, store=store_b) == ["B1"]
    assert numbers({"genders": ["M"]}, manager_a, store=store_b) == []
    # Thirds rank each store on its own: the only customer of store B is its top third.
    assert numbers({"value": ["top"]}, admin_user) == ["A", "B1"]


def test_an_import_refreshes_the_facts(fleet, manager_a, tmp_path, django_capture_on_commit_callbacks):
    from tests.customers.dms_helpers import customer_row, make_vin, repair_row, run_import, vehicle_row, write_csv

    vin = make_vin(7)
    with time_machine.travel(datetime.datetime(2026, 11, 22, 4, tzinfo=datetime.UTC), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            run_import("customers", write_csv(tmp_path / "c.csv", [
                customer_row("N", 性别="女", 区县="玄武区"), customer_row("L", 性别="男", 区县="玄武区"),
            ]))  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            run_import("vehicles", write_csv(tmp_path / "v.csv", [
                vehicle_row(vin, "N", 品牌="北京现代", 车系="途胜", 交车日期="2021-06-01"),
            ]))  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            run_import("repair_orders", write_csv(tmp_path / "r.csv", [
                repair_row("RO-N1", vin, 进厂日期="2026-11-01", 结算日期="2026-11-01", 结算金额="5000"),
            ]))  # fmt: skip

    assert numbers({"districts": ["玄武区"]}, manager_a) == ["D", "L", "N"]
    assert numbers({"genders": ["F"]}, manager_a) == ["A", "N"]
    assert numbers({"activity": ["active"]}, manager_a) == ["A", "N"]
    assert numbers({"brands": ["北京现代"]}, manager_a) == ["D", "N"]
    assert numbers({"lifecycle": ["replacement"]}, manager_a) == ["D"]
    assert numbers({"lifecycle": ["out_of_warranty"]}, manager_a) == ["D", "L", "N"]
    # Four customers in thirds: spend 5000 (N), 900 (A) top; 300 (D) middle; 0 (L) low.
    assert numbers({"value": ["top"]}, manager_a) == ["A", "N"]
    assert numbers({"value": ["low"]}, manager_a) == ["L"]
    assert numbers({"min_spend_12m": "1000"}, manager_a) == ["N"]


def test_the_live_count_answers_every_change_of_the_form(client, manager_a, fleet):
    client.force_login(manager_a)
    url = reverse("customers:segment_count")

    response = client.post(url, {"genders": ["M"], "activity": ["dormant", "lost"]}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert 'data-count="2"' in response.content.decode()
    response = client.post(url, {"activity": ["sleeping"]}, HTTP_HX_REQUEST="true")
    assert "data-count" not in response.content.decode()
    assert response.context["bad_filters"] == ["activity"]
    assert Segment.objects.count() == 0
    edit = client.get(reverse("customers:segment_create"))
    assert edit.context["count"] == 3


def test_the_list_page_count_equals_the_live_count(client, manager_a, store_a, fleet, django_assert_num_queries):
    segment = Segment.objects.create(name="男", store=store_a, definition={"genders": ["M"]})
    client.force_login(manager_a)

    # 11 + the manager's verified TOTP device + the page's membership badges (customers.membership)
    with django_assert_num_queries(9):
        detail = client.get(reverse("customers:segment_detail", args=[segment.pk]))

    assert detail.context["page"].paginator.count == 2
    assert [customer.customer_no for customer in detail.context["page"].object_list] == ["D", "L"]


def test_an_export_of_top_secret_cards_needs_approval_even_for_named_staff(client, manager_a, store_a, fleet):
    active, _dormant, _lost = fleet
    customer_update(customer=active, user=manager_a, data={"confidentiality": "top_secret"})
    active.authorized_staff.add(manager_a)
    segment = Segment.objects.create(name="全部", store=store_a, definition={})
    client.force_login(manager_a)

    listed = client.get(reverse("customers:segment_detail", args=[segment.pk]))
    response = client.get(reverse("customers:segment_export", args=[segment.pk, "csv"]))

    assert [customer.customer_no for customer in listed.context["page"].object_list] == ["A", "D", "L"]
    assert response.templates[0].name == "customers/export_request.html"  # tests/crm/test_export_approval.py
    assert (response.context["row_count"], response.context["approval_row_count"]) == (3, 1)
    assert not AuditLog.objects.filter(action=AuditAction.EXPORT).exists()


def test_the_segment_list_pins_its_queries_for_few_and_many_segments(
    client, manager_a, store_a, django_assert_num_queries
):
    from customers.models import Segment

    Segment.objects.create(name="全部车主", store=store_a, definition={})
    client.force_login(manager_a)
    client.get(reverse("customers:segment_list"))

    # session, the user (role, permissions, store IDs), the TOTP device, the page's count
    # and rows (with their store)
    with django_assert_num_queries(5):
        assert len(client.get(reverse("customers:segment_list")).context["page"].object_list) == 1
    Segment.objects.bulk_create(Segment(name=f"细分{n}", store=store_a, definition={}) for n in range(8))
    with django_assert_num_queries(5):
        assert len(client.get(reverse("customers:segment_list")).context["page"].object_list) == 9

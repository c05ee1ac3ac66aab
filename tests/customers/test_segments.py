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
from customers.models import CustomerStats, Segment
from customers.segments import segment_filter
from customers.selectors import customer_queryset_for_user
from customers.services import customer_stats_refresh
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
                              district="玄武区", source="网络")  # fmt: skip
    lost = CustomerFactory(store=store_a, customer_no="L", gender="M", name='=HYPERLINK("x")', district="-1+1")
    for customer, delivered, settled, amount, brand in (
        (active, datetime.date(2026, 3, 1), datetime.date(2026, 9, 22), "900", "东风日产"),
        (dormant, datetime.date(2022, 6, 1), datetime.date(2026, 3, 1), "300", "北京现代"),
        (lost, datetime.date(2018, 1, 1), datetime.date(2024, 10, 1), "5000", "东风日产"),
    ):
        vehicle = VehicleFactory(customer=customer, delivery_date=delivered, brand=brand)
        RepairOrderFactory(vehicle=vehicle, settle_date=settled, total_amount=Decimal(amount))
    customer_stats_refresh(today=TODAY)
    return active, dormant, lost


def numbers(definition, user):
    queryset = segment_filter(customer_queryset_for_user(user), definition, today=TODAY)
    return sorted(queryset.values_list("customer_no", flat=True))


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


def test_manager_saves_a_segment_and_sees_the_live_count_and_list(client, manager_a, fleet):
    client.force_login(manager_a)

    response = client.post(
        reverse("customers:segment_create"), {"name": "男车主", "genders": ["M"], "districts": "玄武区， 江宁区"}
    )

    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.definition == {"genders": ["M"], "districts": ["玄武区", "江宁区"]}
    detail = client.get(reverse("customers:segment_detail", args=[segment.pk]))
    assert detail.context["page"].paginator.count == 1
    assert [customer.customer_no for customer in detail.context["page"].object_list] == ["D"]


def test_segment_form_refuses_bad_values_with_a_message(client, manager_a, fleet):
    client.force_login(manager_a)

    response = client.post(
        reverse("customers:segment_create"), {"name": "x", "activity": ["sleeping"], "min_visits_12m": "-1"}
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


def test_csv_export_is_logged_and_formula_safe(client, manager_a, fleet):
    segment = Segment.objects.create(name="流失", definition={"activity": ["lost"]})
    client.force_login(manager_a)

    response = client.get(reverse("customers:segment_export", args=[segment.pk, "csv"]))

    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    row = text.splitlines()[1]
    assert row.startswith('L,"\'=HYPERLINK(""x"")",M,')
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
    segment = Segment.objects.create(name="all", definition={})
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


def test_store_b_manager_counts_nothing_of_store_a(client, manager_b, fleet):
    segment = Segment.objects.create(name="all", definition={})
    client.force_login(manager_b)

    detail = client.get(reverse("customers:segment_detail", args=[segment.pk]))

    assert detail.context["page"].paginator.count == 0

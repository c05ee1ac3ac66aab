"""Complaints from every desk: advisors and sales consultants log them from the card with their
desk's department, see the ones they logged, and a manager corrects the department with history."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from complaints.choices import ActionKind, Department, Origin, Status
from complaints.models import Complaint, ComplaintAction
from customers.satisfaction import satisfaction_result_record
from tests.complaints.factories import ComplaintFactory, local

pytestmark = pytest.mark.django_db


def _card_log_url(client, customer) -> str:
    card = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    match = re.search(r'href="([^"]+)" data-action="log-complaint"', card)
    assert match, "the card offers no 'Log a complaint'"
    return match.group(1).replace("&amp;", "&")


def _post(client, customer, attitude, **fields):
    data = {"customer_no": customer.customer_no, "channel": "in_store", "complaint_type": attitude.pk,
            "severity": "medium", "description": "客户说前台态度冷淡", **fields}  # fmt: skip
    return client.post(reverse("complaints:create"), data)


def test_an_advisor_logs_a_complaint_from_the_card_for_service(
    client, advisor_a, customer_a, attitude, routing_a, manager_a
):
    client.force_login(advisor_a)

    log_url = _card_log_url(client, customer_a)
    form = client.get(log_url)
    initial = form.context["form"].initial
    response = _post(client, customer_a, attitude, department=initial["department"], origin=initial["origin"])

    assert log_url == f"/complaints/new/?customer={customer_a.pk}"
    assert form.status_code == 200
    assert (initial["department"], initial["origin"], initial["customer_no"], initial["channel"]) == (
        "service", "desk", "CA0001", "in_store")  # fmt: skip
    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("complaints:detail", args=[complaint.pk])
    assert (complaint.department, complaint.origin, complaint.created_by, complaint.assigned_manager) == (
        Department.SERVICE, Origin.DESK, advisor_a, manager_a)  # fmt: skip


def test_a_sales_consultants_complaint_is_for_sales(client, sales_a, customer_a, attitude, routing_a, sales_manager_a):
    client.force_login(sales_a)

    initial = client.get(_card_log_url(client, customer_a)).context["form"].initial
    _post(client, customer_a, attitude, department=initial["department"])

    assert initial["department"] == "sales"
    complaint = Complaint.objects.get()
    assert (complaint.department, complaint.created_by, complaint.assigned_manager) == (
        Department.SALES, sales_a, sales_manager_a)  # fmt: skip


@pytest.mark.parametrize(
    ("query", "department", "origin"),
    [
        ({"origin": "delivery", "origin_ref": "vehicle:5"}, "sales", "delivery"),
        ({"origin": "delivery_interview"}, "sales", "delivery_interview"),
        ({"followup_task": "9", "rule": "delivery_day1_call"}, "sales", "call"),
        ({"followup_task": "9", "rule": "maintenance_due"}, "service", "call"),
    ],
)
def test_the_department_starts_from_where_the_complaint_comes_from(client, advisor_a, customer_a, query, department,
                                                                   origin):  # fmt: skip
    client.force_login(advisor_a)

    initial = client.get(reverse("complaints:create"), {"customer": customer_a.pk, **query}).context["form"].initial

    assert (initial["department"], initial["origin"]) == (department, origin)


def test_advisors_see_the_complaints_they_logged_even_closed(client, advisor_a, customer_a, attitude):
    closed = {"status": Status.CLOSED, "closed_at": local(2026, 1, 2), "customer_confirmation": "satisfied"}
    mine = ComplaintFactory(customer=customer_a, complaint_type=attitude, created_by=advisor_a, **closed)
    ComplaintFactory(customer=customer_a, complaint_type=attitude, **closed)
    client.force_login(advisor_a)

    listing = client.get(reverse("complaints:list"), {"status": "all"})

    assert [complaint.pk for complaint in listing.context["page"].object_list] == [mine.pk]
    assert client.get(reverse("complaints:detail", args=[mine.pk])).status_code == 200


def test_a_call_result_prefills_the_statement_or_leads_to_the_complaint_it_opened(
    client, agent_a, customer_a, attitude, django_capture_on_commit_callbacks
):
    satisfaction_result_record(
        customer=customer_a, department="sales", source="call", reference="callattempt:77", at=local(2026, 11, 23, 10),
        score=1, rule_code="delivery_thanks", statement="交车时没有讲解功能",
    )  # fmt: skip
    client.force_login(agent_a)
    query = {"customer": customer_a.pk, "followup_task": 5, "rule": "delivery_thanks", "result": "callattempt:77"}

    prefilled = client.get(reverse("complaints:create"), query).context["form"].initial
    ComplaintFactory(customer=customer_a, complaint_type=attitude, origin_reference="callattempt:77")
    opened = Complaint.objects.get(origin_reference="callattempt:77")
    redirected = client.get(reverse("complaints:create"), query)

    assert prefilled["description"] == "Call on 2026-11-23 10:00: score 1 of 5\n交车时没有讲解功能"
    assert (prefilled["department"], prefilled["origin"], prefilled["origin_reference"]) == (
        "sales", "call", "callattempt:77")  # fmt: skip
    assert (redirected.status_code, redirected["Location"]) == (302, reverse("complaints:detail", args=[opened.pk]))


def test_a_manager_corrects_the_department_with_history_and_the_new_manager(
    client, manager_a, sales_manager_a, customer_a, attitude, routing_a, django_capture_on_commit_callbacks
):
    from complaints.services import complaint_create

    complaint = complaint_create(
        actor=manager_a, customer=customer_a, channel="phone", department="service", complaint_type=attitude,
        severity="medium", description="销售承诺的赠品没给",
    )  # fmt: skip
    client.force_login(manager_a)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("complaints:department", args=[complaint.pk]), {"department": "sales"})

    complaint.refresh_from_db()
    assert response.status_code == 302
    assert (complaint.department, complaint.assigned_manager) == (Department.SALES, sales_manager_a)
    change = ComplaintAction.objects.get(kind=ActionKind.DEPARTMENT_CHANGED)
    assert (change.note, change.actor) == ("Department changed from Service to Sales.", manager_a)
    history = list(complaint.history.order_by("history_date").values_list("department", "history_user"))
    assert history[-2:] == [("service", manager_a.pk), ("sales", manager_a.pk)]
    assert [message.to for message in mail.outbox] == [[sales_manager_a.email]]
    detail = client.get(reverse("complaints:detail", args=[complaint.pk])).content.decode()
    assert 'data-action="department_changed"' in detail


def test_the_department_cannot_be_set_to_what_it_is_or_to_nonsense(client, manager_a, customer_a, attitude, routing_a):
    complaint = ComplaintFactory(customer=customer_a, complaint_type=attitude, department="service")
    client.force_login(manager_a)

    same = client.post(reverse("complaints:department", args=[complaint.pk]), {"department": "service"})
    nonsense = client.post(reverse("complaints:department", args=[complaint.pk]), {"department": "marketing"})

    assert (same.status_code, nonsense.status_code) == (400, 400)
    assert "The complaint is already with this department." in same.content.decode()
    assert ComplaintAction.objects.filter(kind=ActionKind.DEPARTMENT_CHANGED).count() == 0


def test_manager_b_and_advisors_cannot_change_the_department(client, manager_b, advisor_a, customer_a, attitude):
    complaint = ComplaintFactory(customer=customer_a, complaint_type=attitude, department="service")
    history_before = complaint.history.count()

    client.force_login(manager_b)
    foreign = client.post(reverse("complaints:department", args=[complaint.pk]), {"department": "sales"})
    client.force_login(advisor_a)
    advisor = client.post(reverse("complaints:department", args=[complaint.pk]), {"department": "sales"})

    complaint.refresh_from_db()
    assert (foreign.status_code, advisor.status_code) == (404, 403)
    assert complaint.department == "service"
    assert ComplaintAction.objects.filter(kind=ActionKind.DEPARTMENT_CHANGED).count() == 0
    assert complaint.history.count() == history_before


def test_the_advisors_list_runs_a_fixed_number_of_queries(client, advisor_a, customer_a, attitude,
                                                          django_assert_num_queries):  # fmt: skip
    closed = {"status": Status.CLOSED, "closed_at": local(2026, 1, 2), "customer_confirmation": "satisfied"}
    ComplaintFactory.create_batch(2, customer=customer_a, complaint_type=attitude, created_by=advisor_a, **closed)
    client.force_login(advisor_a)
    client.get(reverse("complaints:list"), {"status": "all"})  # warm the session and permission caches

    ComplaintFactory.create_batch(4, customer=customer_a, complaint_type=attitude)
    ComplaintFactory.create_batch(3, customer=customer_a, complaint_type=attitude, created_by=advisor_a, **closed)
    # session, user, role and permissions, the user's stores, the count and the page: the same
    # whatever the number of complaints, open or logged by the advisor
    with django_assert_num_queries(5):
        response = client.get(reverse("complaints:list"), {"status": "all"})
    assert response.context["page"].paginator.count == 9

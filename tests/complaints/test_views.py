import datetime

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from complaints.card import complaint_timeline_events, open_complaints_panel
from complaints.choices import Status
from complaints.models import Complaint, ComplaintAction
from crm.choices import AuditAction
from crm.models import AuditLog
from tests.complaints.factories import ComplaintFactory, local
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CLOSE_REFUSED = (
    "The complaint cannot be closed without the customer&#x27;s confirmation: call the customer back "
    "and record whether they are satisfied."
)


@pytest.fixture
def complaint_a(customer_a, attitude):
    return ComplaintFactory(customer=customer_a, complaint_type=attitude)


def form_data(customer, attitude, **extra):
    return {
        "customer_no": customer.customer_no,
        "channel": "satisfaction_callback",
        "department": "service",
        "complaint_type": attitude.pk,
        "severity": "high",
        "description": "回访时客户反映洗车不干净",
        **extra,
    }


def test_the_form_opened_from_a_call_outcome_is_prefilled(client, agent_a, customer_a, vehicle_a, attitude):
    client.force_login(agent_a)
    url = reverse("complaints:create")

    response = client.get(
        url,
        {"customer": customer_a.pk, "vehicle": vehicle_a.pk, "channel": "satisfaction_callback", "followup_task": 42},
    )

    assert response.status_code == 200
    assert response.context["form"].initial == {
        "customer_no": "CA0001",
        "store": customer_a.store_id,
        "vehicle": "苏A12345",
        "channel": "satisfaction_callback",
        "followup_task": 42,
        "department": "service",
        "origin": "call",
        "origin_reference": "followuptask:42",
    }
    assert response.context["customer"] == customer_a


def test_an_agent_logs_a_complaint_and_the_manager_is_told(
    client, agent_a, customer_a, vehicle_a, attitude, routing_a, manager_a, django_capture_on_commit_callbacks
):
    client.force_login(agent_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("complaints:create"),
            form_data(customer_a, attitude, vehicle="苏A12345", followup_task="42"),
        )

    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("complaints:detail", args=[complaint.pk])
    assert (complaint.customer, complaint.vehicle, complaint.store, complaint.followup_task_id) == (
        customer_a,
        vehicle_a,
        customer_a.store,
        42,
    )
    assert (complaint.assigned_manager, complaint.created_by, complaint.channel) == (
        manager_a,
        agent_a,
        "satisfaction_callback",
    )
    assert [message.to for message in mail.outbox] == [["manager_a@example.com"]]


def test_an_unknown_customer_and_a_foreign_customer_are_clear_errors(client, agent_a, customer_b, attitude):
    client.force_login(agent_a)

    response = client.post(reverse("complaints:create"), form_data(customer_b, attitude))

    assert response.status_code == 200
    assert response.context["form"].errors["customer_no"] == ["No customer with number CB0001 in your stores."]
    assert Complaint.objects.count() == 0


def test_a_forbidden_attachment_is_refused_with_a_message(client, agent_a, customer_a, attitude):
    client.force_login(agent_a)
    data = form_data(customer_a, attitude, attachments=SimpleUploadedFile("run.exe", b"MZ", "application/x-msdownload"))

    response = client.post(reverse("complaints:create"), data)

    assert response.status_code == 200
    assert "“run.exe” is not an accepted file type" in response.context["form"].errors["attachments"][0]
    assert Complaint.objects.count() == 0


def test_a_manager_of_store_b_gets_404_on_a_store_a_complaint(client, manager_b, complaint_a):
    client.force_login(manager_b)

    detail = client.get(reverse("complaints:detail", args=[complaint_a.pk]))
    close = client.post(
        reverse("complaints:close", args=[complaint_a.pk]), {"resolution": "x", "confirmation": "satisfied"}
    )

    assert (detail.status_code, close.status_code) == (404, 404)
    complaint_a.refresh_from_db()
    assert complaint_a.status == Status.OPEN


def test_an_agent_cannot_close(client, agent_a, complaint_a):
    client.force_login(agent_a)

    response = client.post(
        reverse("complaints:close", args=[complaint_a.pk]), {"resolution": "x", "confirmation": "satisfied"}
    )

    assert response.status_code == 403
    complaint_a.refresh_from_db()
    assert (complaint_a.status, complaint_a.resolution) == (Status.OPEN, "")


def test_closing_without_confirmation_shows_the_reason_and_changes_nothing(client, manager_a, complaint_a):
    client.force_login(manager_a)

    response = client.post(reverse("complaints:close", args=[complaint_a.pk]), {"resolution": "已道歉并重洗"})

    assert response.status_code == 400
    assert CLOSE_REFUSED in response.content.decode()
    complaint_a.refresh_from_db()
    assert (complaint_a.status, complaint_a.resolution) == (Status.OPEN, "")


def test_a_manager_responds_closes_and_reopens(client, manager_a, complaint_a):
    client.force_login(manager_a)

    client.post(reverse("complaints:action", args=[complaint_a.pk]), {"kind": "contacted", "note": "已致电客户"})
    client.post(
        reverse("complaints:close", args=[complaint_a.pk]),
        {"resolution": "已道歉并重洗", "confirmation": "satisfied", "confirmation_note": "客户满意"},
    )
    complaint_a.refresh_from_db()
    assert (complaint_a.status, complaint_a.customer_confirmation) == (Status.CLOSED, "satisfied")
    assert complaint_a.first_response_at is not None

    response = client.post(reverse("complaints:reopen", args=[complaint_a.pk]), {"reason": "客户再次投诉"})

    assert response.status_code == 302
    complaint_a.refresh_from_db()
    assert (complaint_a.status, complaint_a.reopened_count) == (Status.IN_PROGRESS, 1)


def test_advisors_see_the_open_complaints_of_their_store_only(client, advisor_a, customer_a, attitude):
    open_one = ComplaintFactory(customer=customer_a, complaint_type=attitude)
    closed_one = ComplaintFactory(
        customer=customer_a,
        complaint_type=attitude,
        status=Status.CLOSED,
        closed_at=local(2026, 1, 2),
        customer_confirmation="satisfied",
    )
    client.force_login(advisor_a)

    listing = client.get(reverse("complaints:list"), {"status": "all"})

    assert [complaint.pk for complaint in listing.context["page"].object_list] == [open_one.pk]
    assert client.get(reverse("complaints:detail", args=[closed_one.pk])).status_code == 404
    assert client.get(reverse("complaints:create")).status_code == 200  # advisors log complaints at the desk


def test_the_list_runs_a_fixed_number_of_queries(client, manager_a, customer_a, attitude, django_assert_num_queries):
    ComplaintFactory.create_batch(3, customer=customer_a, complaint_type=attitude)
    client.force_login(manager_a)
    client.get(reverse("complaints:list"))  # warm the session and permission caches

    ComplaintFactory.create_batch(5, customer=customer_a, complaint_type=attitude)
    # session, user, the verified TOTP device (managers), user and group permissions, the user's
    # stores, count, the role (navigation), the store filter, the page: whatever the number of complaints
    with django_assert_num_queries(6):
        response = client.get(reverse("complaints:list"))
    assert response.context["page"].paginator.count == 8


def test_the_dashboard_shows_the_figures_and_is_for_managers(client, manager_a, agent_a, customer_a, attitude):
    with time_machine.travel(local(2026, 11, 10, 12, 0), tick=False):
        ComplaintFactory(customer=customer_a, complaint_type=attitude, received_at=local(2026, 11, 10, 9, 0))
        ComplaintFactory(customer=customer_a, complaint_type=attitude, received_at=local(2026, 11, 10, 11, 30))
        client.force_login(manager_a)
        page = client.get(reverse("complaints:dashboard")).content.decode()
        client.force_login(agent_a)
        forbidden = client.get(reverse("complaints:dashboard"))

    assert 'data-figure="open">2<' in page
    assert 'data-figure="overdue">1<' in page
    assert 'data-figure="response_overdue">1<' in page
    assert "vendor/chart-4.6.1.umd.min.js" in page
    assert forbidden.status_code == 403


def test_a_bad_period_is_a_clear_message(client, manager_a):
    client.force_login(manager_a)

    response = client.get(reverse("complaints:dashboard"), {"first_month": "2026-10", "last_month": "2026-01"})

    assert response.status_code == 200
    assert "The first month must not be after the last month." in response.content.decode()


def test_managers_export_the_period_as_safe_csv_and_it_is_audited(client, manager_a, agent_a, customer_a, attitude):
    ComplaintFactory(
        customer=customer_a, complaint_type=attitude, received_at=local(2026, 10, 5, 9, 0), description="=HYPERLINK(1)"
    )
    client.force_login(manager_a)

    response = client.get(reverse("complaints:export"), {"first_month": "2026-10", "last_month": "2026-10"})

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="complaints-202610-202610.csv"'
    lines = response.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2
    assert "'=HYPERLINK(1)" in lines[1]
    entry = AuditLog.objects.get()
    assert (entry.actor, entry.action, entry.object_type) == (manager_a, AuditAction.EXPORT, "complaints.complaint")
    client.force_login(agent_a)
    assert client.get(reverse("complaints:export")).status_code == 403


def test_the_monthly_rates_export(client, manager_a):
    client.force_login(manager_a)

    response = client.get(
        reverse("complaints:export"), {"first_month": "2026-09", "last_month": "2026-10", "what": "months"}
    )

    lines = response.content.decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["2026-09", "2026-10"]


def test_the_customer_card_shows_open_complaints_and_the_timeline(advisor_a, customer_a, complaint_a):
    panel = open_complaints_panel(user=advisor_a, customer=customer_a)
    events = complaint_timeline_events(user=advisor_a, customer=customer_a)

    assert panel.template == "complaints/card_panel.html"
    assert panel.context["open_complaints"] == [complaint_a]
    assert events == []  # the factory writes no timeline; the service does


def test_without_open_complaints_the_card_panel_only_offers_to_log_one(advisor_a, customer_a):
    panel = open_complaints_panel(user=advisor_a, customer=customer_a)

    assert panel.context == {"open_complaints": [], "log_url": f"/complaints/new/?customer={customer_a.pk}"}


def test_the_card_panel_is_empty_for_staff_who_may_neither_see_nor_log_complaints(store_a, customer_a):
    nobody = UserFactory(username="no_role", stores=[store_a])

    assert open_complaints_panel(user=nobody, customer=customer_a) is None


def test_attachments_are_downloaded_only_within_scope(client, manager_a, manager_b, complaint_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(manager_a)
    client.post(
        reverse("complaints:attachment_add", args=[complaint_a.pk]),
        {"files": SimpleUploadedFile("letter.pdf", b"%PDF-1.4", "application/pdf")},
    )
    attachment = complaint_a.attachments.get()

    own = client.get(reverse("complaints:attachment", args=[complaint_a.pk, attachment.pk]))
    client.force_login(manager_b)
    foreign = client.get(reverse("complaints:attachment", args=[complaint_a.pk, attachment.pk]))

    assert (own.status_code, b"".join(own.streaming_content)) == (200, b"%PDF-1.4")
    assert foreign.status_code == 404


def test_time_moves_the_complaint_into_overdue_in_the_list(client, manager_a, customer_a, attitude):
    received = local(2026, 11, 24, 10, 0)
    complaint = ComplaintFactory(customer=customer_a, complaint_type=attitude, received_at=received)

    with time_machine.travel(received + datetime.timedelta(minutes=30), tick=False):
        client.force_login(manager_a)
        before = client.get(reverse("complaints:list"), {"overdue": "1"}).context["page"].paginator.count
    with time_machine.travel(received + datetime.timedelta(minutes=61), tick=False):
        client.force_login(manager_a)  # 31 idle minutes end a session (SESSION_IDLE_MINUTES)
        after = client.get(reverse("complaints:list"), {"overdue": "1"}).context["page"].object_list

    assert before == 0
    assert [row.pk for row in after] == [complaint.pk]


def test_the_advisor_sees_the_open_complaint_on_the_customer_card(client, advisor_a, customer_a, complaint_a):
    client.force_login(advisor_a)

    page = client.get(reverse("customers:detail", args=[customer_a.pk])).content.decode()

    assert 'data-panel="open-complaints"' in page
    assert f'data-complaint="{complaint_a.pk}"' in page


def test_non_ascii_digits_in_the_query_are_ignored_not_a_500(client, agent_a, customer_a, complaint_a):
    client.force_login(agent_a)

    listing = client.get(reverse("complaints:list"), {"q": "#²", "store": "²", "status": "all"})
    form = client.get(reverse("complaints:create"), {"customer": "²", "vehicle": "³", "followup_task": "¹"})

    assert listing.status_code == 200
    assert list(listing.context["page"].object_list) == []
    assert form.status_code == 200
    assert form.context["form"].initial == {
        "department": "service",
        "origin": "desk",
        "origin_reference": "",
        "channel": "in_store",
    }


def test_the_export_leaves_out_top_secret_cards_the_manager_may_not_see(client, manager_a, store_a, attitude):
    from tests.factories import CustomerFactory

    secret = CustomerFactory(store=store_a, customer_no="CS0001", name="机密客户", confidentiality="top_secret")
    ComplaintFactory(customer=secret, complaint_type=attitude, received_at=local(2026, 10, 5, 9, 0))
    client.force_login(manager_a)
    query = {"first_month": "2026-10", "last_month": "2026-10"}

    hidden = client.get(reverse("complaints:export"), query).content.decode("utf-8-sig").splitlines()
    secret.authorized_staff.add(manager_a)
    shown = client.get(reverse("complaints:export"), query)

    assert len(hidden) == 1
    assert "机密客户" not in "".join(hidden)
    # Once the manager may see the card, its complaint is in the export, which then needs another
    # manager's approval (tests/complaints/test_exports.py).
    assert (shown.context["row_count"], shown.context["approval_row_count"]) == (1, 1)
    assert "机密客户" not in shown.content.decode()


def test_advisors_sharing_one_compiled_card_read_each_read_only_their_own_closed_complaint(
    store_a, advisor_a, manager_a, customer_a, attitude
):
    """Two advisors of one store share the card's compiled complaint statements (same stores, same
    reading); what each may read still follows the user: the open complaints and the closed one
    the advisor logged, and the summary only of another's closed complaint."""
    other = UserFactory(username="advisor_other", role="service_advisor", stores=[store_a])
    closed = {"status": Status.CLOSED, "closed_at": local(2026, 10, 6), "customer_confirmation": "satisfied"}
    mine = ComplaintFactory(customer=customer_a, complaint_type=attitude, created_by=advisor_a, **closed)
    theirs = ComplaintFactory(customer=customer_a, complaint_type=attitude, created_by=other, **closed)
    still_open = ComplaintFactory(customer=customer_a, complaint_type=attitude, created_by=other)
    for number, complaint in enumerate((mine, theirs, still_open)):
        ComplaintAction.objects.create(complaint=complaint, kind="logged", at=local(2026, 10, 5, 9, number))

    def readable(user) -> dict[int, bool]:
        return {
            int(event.title.split("#")[1].split(" ")[0]): bool(event.url)
            for event in complaint_timeline_events(user=user, customer=customer_a)
        }

    seen = {user.username: readable(user) for user in (advisor_a, other, manager_a, advisor_a)}
    panels = {user.username: open_complaints_panel(user=user, customer=customer_a).context["open_complaints"]
              for user in (advisor_a, other, manager_a)}  # fmt: skip

    assert seen == {
        "advisor_a": {mine.pk: True, theirs.pk: False, still_open.pk: True},
        "advisor_other": {mine.pk: False, theirs.pk: True, still_open.pk: True},
        "manager_a": {mine.pk: True, theirs.pk: True, still_open.pk: True},
    }
    assert panels == {"advisor_a": [still_open], "advisor_other": [still_open], "manager_a": [still_open]}

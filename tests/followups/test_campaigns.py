"""SMS campaigns (营销短信): placeholders refused at save, approval before anything is sent, the
exclusions, a reproducible holdout never sent, one message per recipient whatever is retried, the
quick care message and the lift with its 95 % interval on a data set whose answer is known."""

import datetime
import json
import zoneinfo
from decimal import Decimal

import pytest
import time_machine

from crm.exceptions import ApplicationError
from customers.facts import customer_stats_refresh
from customers.models import CustomerConsent, Segment
from followups.campaigns import (
    campaign_approve,
    campaign_create,
    campaign_prepare,
    campaign_recipients_preview,
    campaign_report,
    campaign_test_send,
    campaign_update,
    lift_interval,
    quick_care_send,
)
from followups.gateways import FileGateway
from followups.models import Campaign, CampaignRecipient, SmsMessage
from followups.services import sms_inbound_receive, sms_send_batch
from tests.factories import CustomerFactory, RepairOrderFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D = datetime.date
DAY = D(2026, 11, 22)
AT_TEN = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def ten_o_clock():
    with time_machine.travel(AT_TEN, tick=False):
        yield


@pytest.fixture
def gateway(tmp_path, settings):
    settings.SMS_FILE_GATEWAY_DIR = str(tmp_path)
    settings.SMS_GATEWAY_RATE_PER_SECOND = 0
    return FileGateway(tmp_path)


@pytest.fixture
def manager_two(store_a):
    return UserFactory(username="manager_two", role="manager", stores=[store_a])


@pytest.fixture
def segment(store_a):
    return Segment.objects.create(name="江宁车主", store=store_a, definition={"districts": ["江宁区"]})


def sent_lines(gateway):
    if not gateway.path.exists():
        return []
    return [json.loads(line) for line in gateway.path.read_text(encoding="utf-8").splitlines()]


def grant(customer, purpose="marketing", granted=True):
    CustomerConsent.objects.create(customer=customer, purpose=purpose, is_granted=granted, at=AT_TEN, source="desk")


def owner(store, *, consent=True, **fields):
    customer = CustomerFactory(store=store, **fields)
    if consent:
        grant(customer)
    return customer


def draft(manager, store, segment, **fields):
    values = {"name": "双十一保养", "kind": "promotion", "segment": segment, "template": "尊敬的{name}：保养八折。",
              "send_at": AT_TEN, "holdout_percent": 10}  # fmt: skip
    values.update(fields)
    customer_stats_refresh(today=DAY)
    return campaign_create(user=manager, store=store, **values)


@pytest.mark.parametrize("template", ["尊敬的{unknown}", "尊敬的{Name}", "尊敬的{姓名}"])
def test_unknown_placeholders_are_refused_when_saved(manager_a, store_a, segment, template):
    with pytest.raises(ApplicationError) as refused:
        draft(manager_a, store_a, segment, template=template)
    name = template[3:]
    assert refused.value.message == (
        f"未知字段：{name}。可用字段为：{{name}} {{plate}} {{model}} {{date}} {{time}} {{store_phone}} {{store}}"
        " {holiday} {event} {points}。"
    )
    assert Campaign.objects.count() == 0
    with pytest.raises(ApplicationError):
        draft(manager_a, store_a, segment, template="您好{name")
    campaign = draft(manager_a, store_a, segment)
    with pytest.raises(ApplicationError):
        campaign_update(user=manager_a, campaign=campaign, template="{unknown}")
    campaign.refresh_from_db()
    assert campaign.template == "尊敬的{name}：保养八折。"


def test_the_preview_counts_the_recipients_after_every_exclusion(manager_a, store_a, store_b, segment):
    owner(store_a, mobile="13900000001")  # reached
    owner(store_a, mobile="13900000002", sms_opt_out=True)
    owner(store_a, mobile="")
    owner(store_a, mobile="1234")
    owner(store_a, mobile="13900000003", consent=False)  # no marketing consent recorded
    withdrawn = owner(store_a, mobile="13900000004", consent=False)
    grant(withdrawn, granted=False)
    owner(store_a, mobile="13900000005", district="鼓楼区")  # not in the segment
    owner(store_b, mobile="13900000006")  # another store
    sold = owner(store_a, mobile="13900000007")
    VehicleFactory(customer=sold, status="transferred")
    campaign = draft(manager_a, store_a, segment)

    assert campaign_recipients_preview(campaign=campaign) == 1
    # A care message goes under the service consent: no record is needed, a withdrawal stops it.
    campaign_update(user=manager_a, campaign=campaign, kind="special_weather")
    assert campaign_recipients_preview(campaign=campaign) == 3


def test_nothing_is_sent_before_approval_and_the_author_may_not_approve(manager_a, manager_two, store_a, segment,
                                                                        gateway, advisor_a):  # fmt: skip
    owner(store_a, mobile="13900000001")
    campaign = draft(manager_a, store_a, segment, holdout_percent=0)  # ceil(1 × 10 %) would keep the one back

    assert sms_send_batch(store_id=store_a.pk, day=DAY, now=AT_TEN, gateway=gateway)["sent"] == 0
    assert sent_lines(gateway) == []
    with pytest.raises(ApplicationError, match="双人复核"):
        campaign_approve(user=manager_a, campaign=campaign)
    with pytest.raises(ApplicationError, match="只有经理"):
        campaign_approve(user=advisor_a, campaign=campaign)
    assert SmsMessage.objects.count() == 0

    assert campaign_approve(user=manager_two, campaign=campaign) == (1, 1)
    with pytest.raises(ApplicationError):
        campaign_approve(user=manager_two, campaign=campaign)
    with pytest.raises(ApplicationError, match="只有草稿可以修改"):
        campaign_update(user=manager_a, campaign=Campaign.objects.get(), name="x")
    assert sms_send_batch(store_id=store_a.pk, day=DAY, now=AT_TEN, gateway=gateway)["sent"] == 1
    assert [line["text"] for line in sent_lines(gateway)] == ["【江宁日产】尊敬的张伟：保养八折。回T退订"]
    campaign.refresh_from_db()
    assert (campaign.status, campaign.approved_by, campaign.approved_at) == ("sent", manager_two, AT_TEN)


def test_the_holdout_is_not_sent_and_the_same_on_a_re_run(manager_a, manager_two, store_a, segment, gateway):
    customers = [owner(store_a, mobile=f"139000001{n:02d}") for n in range(25)]
    campaign = draft(manager_a, store_a, segment)

    assert campaign_approve(user=manager_two, campaign=campaign) == (25, 22)
    kept_back = CampaignRecipient.objects.filter(campaign=campaign, is_holdout=True)
    holdout = set(kept_back.values_list("customer_id", flat=True))
    assert len(holdout) == 3  # ceil(25 × 10 / 100)
    # Preparing again makes nothing; fixing the recipients afresh picks the very same holdout.
    assert campaign_prepare(campaign=campaign) == (0, 0)
    CampaignRecipient.objects.filter(campaign=campaign).delete()
    assert campaign_prepare(campaign=campaign) == (25, 0)
    assert set(kept_back.values_list("customer_id", flat=True)) == holdout
    assert CampaignRecipient.objects.filter(campaign=campaign, message__isnull=True).count() == 25

    # Two batch runs, then one more: one message per recipient outside the holdout, none to the holdout.
    sms_send_batch(store_id=store_a.pk, day=DAY, now=AT_TEN, gateway=gateway)
    sms_send_batch(store_id=store_a.pk, day=DAY, now=AT_TEN, gateway=gateway)
    keys = [line["key"] for line in sent_lines(gateway)]
    assert sorted(keys) == sorted(f"campaign-{campaign.pk}-{c.pk}" for c in customers if c.pk not in holdout)
    assert len(keys) == 22


def test_a_campaign_waits_for_its_send_time_and_the_window(manager_a, manager_two, store_a, segment, gateway):
    owner(store_a, mobile="13900000001")
    campaign = draft(manager_a, store_a, segment, holdout_percent=0,
                     send_at=datetime.datetime(2026, 11, 22, 15, 0, tzinfo=SHANGHAI))  # fmt: skip
    campaign_approve(user=manager_two, campaign=campaign)

    assert sms_send_batch(store_id=store_a.pk, day=DAY, now=AT_TEN, gateway=gateway)["sent"] == 0
    evening = datetime.datetime(2026, 11, 22, 20, 30, tzinfo=SHANGHAI)
    assert sms_send_batch(store_id=store_a.pk, day=DAY, now=evening, gateway=gateway) == {"outside_window": 1}
    three = datetime.datetime(2026, 11, 22, 15, 0, tzinfo=SHANGHAI)
    assert sms_send_batch(store_id=store_a.pk, day=DAY, now=three, gateway=gateway)["sent"] == 1


def test_an_opt_out_after_approval_cancels_the_message(manager_a, manager_two, store_a, segment, gateway):
    customer = owner(store_a, mobile="13900000001")
    campaign = draft(manager_a, store_a, segment, holdout_percent=0)
    campaign_approve(user=manager_two, campaign=campaign)
    customer.sms_opt_out = True
    customer.save()

    assert sms_send_batch(store_id=store_a.pk, day=DAY, now=AT_TEN, gateway=gateway)["sent"] == 0
    assert SmsMessage.objects.get().status == "cancelled"


def test_the_test_send_goes_to_the_author_only(manager_a, store_a, segment, gateway):
    campaign = draft(manager_a, store_a, segment, template="{name}您好，{store}电话{store_phone}")
    with pytest.raises(ApplicationError, match="没有手机号"):
        campaign_test_send(user=manager_a, campaign=campaign, gateway=gateway)
    manager_a.phone = "139 0000 9999"
    assert campaign_test_send(user=manager_a, campaign=campaign, gateway=gateway) == "13900009999"
    assert [(line["mobile"], line["text"]) for line in sent_lines(gateway)] == [
        ("13900009999", "【江宁日产】王明您好，江宁店电话025-52101234回T退订")
    ]
    assert (SmsMessage.objects.count(), CampaignRecipient.objects.count()) == (0, 0)


def test_quick_care_reaches_the_districts_without_holdout(manager_a, store_a, gateway, advisor_a):
    reached = CustomerFactory(store=store_a, mobile="13900000001", district="江宁区", name="李雷")
    CustomerFactory(store=store_a, mobile="13900000002", district="浦口区")
    CustomerFactory(store=store_a, mobile="13900000003", district="江宁区", sms_opt_out=True)
    template = "{name}您好：今夜暴雨，出行请注意安全。24小时救援电话{store_phone}。"
    with pytest.raises(ApplicationError, match="只有经理"):
        quick_care_send(user=advisor_a, store=store_a, districts=["江宁区"], template=template)
    with pytest.raises(ApplicationError, match="请至少选择一个区域"):
        quick_care_send(user=manager_a, store=store_a, districts=[" "], template=template)

    campaign, messages = quick_care_send(user=manager_a, store=store_a, districts=["江宁区"], template=template)

    assert (campaign.kind, campaign.status, campaign.holdout_percent, messages) == ("special_weather", "approved", 0, 1)
    sms_send_batch(store_id=store_a.pk, day=DAY, now=AT_TEN, gateway=gateway)
    assert [(line["mobile"], line["text"]) for line in sent_lines(gateway)] == [
        (reached.mobile, "【江宁日产】李雷您好：今夜暴雨，出行请注意安全。24小时救援电话025-52101234。回T退订")
    ]


def test_lift_interval_formula():
    diff, low, high = lift_interval(returned_1=30, n_1=100, returned_2=20, n_2=100)
    # 0.3 − 0.2 ± 1.96·sqrt(0.21/100 + 0.16/100) = 0.1 ± 1.96 × 0.0608276…
    assert (round(diff, 6), round(low, 6), round(high, 6)) == (0.1, -0.019222, 0.219222)
    assert lift_interval(returned_1=1, n_1=1, returned_2=0, n_2=0) is None


def test_the_report_shows_both_groups_and_the_lift(manager_a, manager_two, store_a, segment, gateway):
    customers = [owner(store_a, mobile=f"139000002{n:02d}") for n in range(20)]
    campaign = draft(manager_a, store_a, segment, holdout_percent=50)
    campaign_approve(user=manager_two, campaign=campaign)
    sms_send_batch(store_id=store_a.pk, day=DAY, now=AT_TEN, gateway=gateway)
    holdout = set(CampaignRecipient.objects.filter(is_holdout=True).values_list("customer_id", flat=True))
    sent = [c for c in customers if c.pk not in holdout]
    kept = [c for c in customers if c.pk in holdout]
    # Sent: 6 of 10 come back (one with two orders); holdout: 2 of 10. Orders outside the 30 days count not.
    for customer in sent[:6]:
        RepairOrderFactory(vehicle__customer=customer, open_date=D(2026, 11, 25), total_amount=Decimal("500.00"))
    RepairOrderFactory(vehicle__customer=sent[0], open_date=None, settle_date=D(2026, 12, 22),
                       total_amount=Decimal("100.00"))  # fmt: skip
    RepairOrderFactory(vehicle__customer=sent[7], open_date=DAY, total_amount=Decimal("900.00"))  # the send day
    RepairOrderFactory(vehicle__customer=sent[8], open_date=D(2026, 12, 23), total_amount=Decimal("900.00"))
    for customer in kept[:2]:
        RepairOrderFactory(vehicle__customer=customer, open_date=D(2026, 12, 1), total_amount=Decimal("300.00"))
    SmsMessage.objects.filter(customer=sent[0]).update(delivery_status="delivered")
    sms_inbound_receive(mobile=sent[1].mobile, text="TD", received_at=AT_TEN + datetime.timedelta(hours=1))
    sms_inbound_receive(mobile=sent[2].mobile, text="好的", received_at=AT_TEN + datetime.timedelta(hours=1))
    sms_inbound_receive(mobile=sent[3].mobile, text=" y ", received_at=AT_TEN + datetime.timedelta(hours=1))

    report = campaign_report(campaign=campaign)

    assert report.sent_group.__dict__ == {"size": 10, "came_back": 6, "spend": Decimal("3100.00"), "sent": 10,
                                          "delivered": 1}  # fmt: skip
    assert report.holdout.__dict__ == {"size": 10, "came_back": 2, "spend": Decimal("600.00"), "sent": 0,
                                       "delivered": 0}  # fmt: skip
    assert (report.first_day, report.last_day, report.replies, report.opt_outs, report.rsvps) == (
        D(2026, 11, 23), D(2026, 12, 22), 3, 1, 1)  # fmt: skip
    # 0.6 − 0.2 ± 1.96·sqrt(0.24/10 + 0.16/10) = 0.4 ± 1.96 × 0.2 = 0.4 ± 0.392
    assert (round(report.lift, 6), round(report.lift_low, 6), round(report.lift_high, 6)) == (0.4, 0.008, 0.792)


# --- the pages --------------------------------------------------------------------------------

LIST = "/followups/campaigns/"


def page(name, campaign=None):
    from django.urls import reverse

    return reverse(f"followups:{name}", args=[campaign.pk] if campaign else [])


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        # list, new, care, detail, edit, report
        ("agent_a", [403, 403, 403, 403, 403, 403]),
        ("sales_a", [403, 403, 403, 403, 403, 403]),
        ("advisor_a", [403, 403, 403, 403, 403, 403]),
        ("manager_a", [200, 200, 200, 200, 200, 200]),
        ("admin_user", [200, 200, 200, 200, 200, 200]),
    ],
)
def test_each_role_reaches_the_pages_it_should(client, request, manager_a, store_a, segment, persona, expected):
    campaign = draft(manager_a, store_a, segment)
    client.force_login(request.getfixturevalue(persona))
    pages = [page("campaign_list"), page("campaign_create"), page("quick_care"), page("campaign_detail", campaign),
             page("campaign_edit", campaign), page("campaign_report", campaign)]  # fmt: skip
    assert [client.get(url).status_code for url in pages] == expected


def test_the_navigation_names_the_campaigns_for_managers(client, manager_a):
    client.force_login(manager_a)
    response = client.get(page("campaign_list"))
    assert "营销短信" in [item.label for item in response.context["navigation"]]


def test_another_stores_manager_sees_nothing_of_the_campaign(client, manager_a, manager_b, store_a, segment):
    owner(store_a, mobile="13900000001")
    campaign = draft(manager_a, store_a, segment)
    client.force_login(manager_b)
    for name in ("campaign_detail", "campaign_edit", "campaign_report"):
        assert client.get(page(name, campaign)).status_code == 404
    for name in ("campaign_approve", "campaign_test", "campaign_cancel"):
        assert client.post(page(name, campaign)).status_code == 404
    assert client.get(page("campaign_list")).context["page"].paginator.count == 0
    assert (Campaign.objects.get().status, SmsMessage.objects.count()) == ("draft", 0)


def test_a_manager_drafts_and_another_approves_through_the_pages(client, manager_a, manager_two, store_a, segment):
    owner(store_a, mobile="13900000001", name="韩梅梅")
    customer_stats_refresh(today=DAY)
    client.force_login(manager_a)
    data = {"store": store_a.pk, "name": " 双十一保养 ", "kind": "promotion", "segment": segment.pk,
            "template": "尊敬的{name}：保养八折。", "send_at": "2026-11-22T10:00", "holdout_percent": "0"}  # fmt: skip
    count = client.post(page("campaign_count"), data)
    assert 'data-recipients="1"' in count.content.decode()
    response = client.post(page("campaign_create"), data)
    campaign = Campaign.objects.get()
    assert response["Location"] == page("campaign_detail", campaign)
    detail = client.get(page("campaign_detail", campaign)).content.decode()
    assert 'data-preview-count="1"' in detail
    assert "您创建的营销短信须由另一位经理审批（双人复核）。" in detail
    assert client.post(page("campaign_approve", campaign)).status_code == 302
    assert Campaign.objects.get().status == "draft"

    client.force_login(manager_two)
    client.post(page("campaign_approve", campaign))
    assert Campaign.objects.get().status == "approved"
    assert SmsMessage.objects.get().body == "【江宁日产】尊敬的韩梅梅：保养八折。回T退订"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"template": "尊敬的{姓名}"}, "未知字段：{姓名}。"),
        ({"template": "您好{name"}, "花括号 { 或 } 没有配对"),
        ({"template": ""}, "请填写短信内容。"),
        ({"name": ""}, "请填写营销短信名称。"),
        ({"segment": ""}, "请选择客户分群。"),
        ({"kind": "spam"}, "请选择营销短信类型。"),
        ({"send_at": "明天"}, "请输入日期和时间，例如 2026-12-10 14:00。"),
        ({"send_at": "9999-12-31T23:59"}, "请输入 2000 至 2099 年之间的日期。"),
        ({"holdout_percent": "80"}, "对照组比例须在 0 至 50% 之间。"),
        ({"holdout_percent": "十"}, "请输入对照组比例，例如 10（不设对照组填 0）。"),
    ],
)
def test_bad_campaign_input_is_answered_in_words(client, manager_a, store_a, segment, changes, message):
    client.force_login(manager_a)
    data = {"store": store_a.pk, "name": "双十一", "kind": "promotion", "segment": segment.pk,
            "template": "尊敬的{name}", "send_at": "2026-11-22T10:00", "holdout_percent": "10"}  # fmt: skip
    data.update(changes)
    response = client.post(page("campaign_create"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Campaign.objects.count() == 0


def test_the_test_send_without_a_mobile_is_refused_in_words(client, manager_a, store_a, segment, gateway):
    campaign = draft(manager_a, store_a, segment)
    client.force_login(manager_a)
    response = client.post(page("campaign_test", campaign), follow=True)
    assert "您的账号没有手机号，无法发送测试短信：请联系管理员添加。" in response.content.decode()
    assert sent_lines(gateway) == []


def test_quick_care_in_two_clicks(client, manager_a, store_a):
    CustomerFactory(store=store_a, mobile="13900000001", district="江宁区")
    CustomerFactory(store=store_a, mobile="13900000002", district="浦口区")
    customer_stats_refresh(today=DAY)
    client.force_login(manager_a)
    form = client.get(page("quick_care"))
    assert list(form.context["form"].fields["districts"].choices) == [("江宁区", "江宁区"), ("浦口区", "浦口区")]
    template = form.context["form"].fields["template"].initial
    bad = client.post(page("quick_care"), {"store": store_a.pk, "template": template})
    assert bad.status_code == 400
    assert "请至少选择一个区域。" in bad.content.decode()
    response = client.post(page("quick_care"), {"store": store_a.pk, "districts": ["江宁区"], "template": template})
    campaign = Campaign.objects.get()
    assert response["Location"] == page("campaign_detail", campaign)
    assert (campaign.kind, campaign.status, campaign.districts, SmsMessage.objects.count()) == (
        "special_weather", "approved", ["江宁区"], 1)  # fmt: skip


def test_the_pages_run_a_fixed_number_of_queries(client, manager_a, manager_two, store_a, segment,
                                                 django_assert_num_queries):  # fmt: skip
    """Session, the user (role, permissions, stores), TOTP device, then the page's own: the list 3
    (stores count, count, page), a draft 3 (campaign, preview count, segment's SQL), an approved
    campaign's page 4 (campaign, recipients count and page with replies, …) and the report 3 (campaign,
    the groups, the replies) — however many recipients."""
    for n in range(3):
        owner(store_a, mobile=f"1390000010{n}")
    campaign = draft(manager_a, store_a, segment, holdout_percent=50)
    client.force_login(manager_a)
    with django_assert_num_queries(6):
        assert client.get(page("campaign_list")).status_code == 200
    with django_assert_num_queries(6):
        assert client.get(page("campaign_detail", campaign)).status_code == 200
    campaign_approve(user=manager_two, campaign=campaign)
    for n in range(2):
        CampaignRecipient.objects.create(campaign=campaign, customer=owner(store_a, mobile=f"1390000020{n}"))
        with django_assert_num_queries(7):
            assert client.get(page("campaign_detail", campaign)).status_code == 200
        with django_assert_num_queries(6):
            assert client.get(page("campaign_report", campaign)).status_code == 200


def test_the_list_searches_filters_and_pages(client, manager_a, manager_two, store_a, segment):
    for number in range(27):
        draft(manager_a, store_a, segment, name=f"活动{number:02d}")
    approved = draft(manager_a, store_a, segment, name="双十一保养")
    campaign_approve(user=manager_two, campaign=approved)
    client.force_login(manager_a)
    assert client.get(page("campaign_list")).context["page"].paginator.count == 28
    assert len(client.get(page("campaign_list"), {"page": "2"}).context["page"].object_list) == 3
    assert [c.name for c in client.get(page("campaign_list"), {"q": " 双十一 "}).context["page"]] == ["双十一保养"]
    assert client.get(page("campaign_list"), {"status": "approved"}).context["page"].paginator.count == 1
    bad = client.get(page("campaign_list"), {"status": "nonsense", "page": "x"})
    assert (bad.status_code, bad.context["page"].paginator.count) == (200, 28)


def test_a_draft_is_edited_and_cancelled_through_the_pages(client, manager_a, store_a, segment):
    campaign = draft(manager_a, store_a, segment)
    client.force_login(manager_a)
    data = {"name": "双十二", "kind": "new_model", "segment": segment.pk, "template": "新车上市，{store_phone}",
            "send_at": "2026-12-12T10:00", "holdout_percent": "20"}  # fmt: skip
    assert client.post(page("campaign_edit", campaign), data).status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.kind, campaign.holdout_percent) == ("双十二", "new_model", 20)
    assert client.post(page("campaign_count"), {"segment": "abc"}).status_code == 200
    client.post(page("campaign_cancel", campaign))
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
    assert client.get(page("campaign_edit", campaign)).status_code == 302
    response = client.post(page("campaign_cancel", campaign), follow=True)
    assert "该营销短信已无法取消。" in response.content.decode()

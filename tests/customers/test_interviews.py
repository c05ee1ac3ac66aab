"""The delivery interview (交车满意度面访): factors per store, the interview recorded once per vehicle
as a sales satisfaction result, its pages, the managers' list with its averages, and store scope."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from crm.choices import Role
from crm.exceptions import ApplicationError
from crm.models import AuditLog
from customers.models import DeliveryInterview, InterviewFactor, SatisfactionResult
from customers.satisfaction import satisfaction_listener_register, satisfaction_listener_unregister
from customers.selectors.interviews import (
    DEFAULT_FACTORS,
    delivery_interview_list,
    delivery_interview_summary,
    interview_factors_asked,
    staff_of_record,
)
from customers.services.interviews import delivery_interview_record, interview_factor_add, interview_factors_update
from tests.factories import CustomerFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 11, 20, 15, 30, tzinfo=SHANGHAI)
CODES = [code for code, _label, _position in DEFAULT_FACTORS]
LABELS = [label for _code, label, _position in DEFAULT_FACTORS]


def all_fives(**changes) -> dict[str, int]:
    return {code: changes.get(code, 5) for code in CODES}


def form_data(scores: dict[str, int], comment: str = "") -> dict[str, str]:
    return {**{f"factor_{code}": str(score) for code, score in scores.items()}, "comment": comment}


@pytest.fixture
def li_na(store_a):
    """The sales consultant of record of the vehicles below (李娜 in the DMS)."""
    return UserFactory(username="lina", last_name="李", first_name="娜", role=Role.SALES_CONSULTANT, stores=[store_a])


@pytest.fixture
def vehicle_a(store_a):
    customer = CustomerFactory(store=store_a, name="陈静", customer_no="A0001")
    return VehicleFactory(customer=customer, plate_no="苏A12345", delivery_date=datetime.date(2026, 11, 20),
                          sales_consultant="李娜")  # fmt: skip


def test_a_store_asks_the_seven_factors_of_the_sales_questionnaire_by_default(store_a):
    assert [factor.label for factor in interview_factors_asked(store=store_a)] == [
        "购买经历总体满意度",
        "爱车总体质量",
        "销售顾问的礼貌与专业水平",
        "车辆特性和操作方法讲解清楚",
        "保修范围和常规保养讲解",
        "公司外观形象和清洁度",
        "交车时介绍维修服务专员和客服专员",
    ]
    assert InterviewFactor.objects.count() == 0  # reading never writes


def test_an_interview_is_a_sales_result_scored_by_its_lowest_factor(
    sales_a, li_na, vehicle_a, django_capture_on_commit_callbacks
):
    heard = []
    satisfaction_listener_register("test.interview", lambda result: heard.append(result.reference))
    try:
        with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
            interview = delivery_interview_record(
                user=sales_a, vehicle=vehicle_a, scores=all_fives(consultant_courtesy=2, premises=4),
                comment="交车等了一个小时",
            )  # fmt: skip
    finally:
        satisfaction_listener_unregister("test.interview")

    assert interview.lowest_score == 2
    assert interview.consultant == li_na  # the consultant of record, not the one holding the tablet
    assert interview.recorded_by == sales_a
    assert interview.customer == vehicle_a.customer
    assert interview.store == vehicle_a.store
    assert interview.interviewed_at == NOW
    assert interview.answers[2] == {"code": "consultant_courtesy", "label": "销售顾问的礼貌与专业水平", "score": 2}
    assert [answer["score"] for answer in interview.answers] == [5, 5, 2, 5, 5, 4, 5]
    assert interview.history.count() == 1
    result = SatisfactionResult.objects.get()
    assert (result.customer, result.score, result.verdict, result.department, result.source) == (
        vehicle_a.customer, 2, "dissatisfied", "sales", "delivery_interview",
    )  # fmt: skip
    assert result.reference == f"deliveryinterview:{interview.pk}"
    assert result.at == NOW
    assert result.recorded_by == sales_a
    assert result.statement == (
        "购买经历总体满意度：5 分（满分 5 分）\n"
        "爱车总体质量：5 分（满分 5 分）\n"
        "销售顾问的礼貌与专业水平：2 分（满分 5 分）\n"
        "车辆特性和操作方法讲解清楚：5 分（满分 5 分）\n"
        "保修范围和常规保养讲解：5 分（满分 5 分）\n"
        "公司外观形象和清洁度：4 分（满分 5 分）\n"
        "交车时介绍维修服务专员和客服专员：5 分（满分 5 分）\n"
        "客户意见：交车等了一个小时"
    )
    assert heard == [result.reference]  # the complaints app's listener hears it once, on commit
    # The store now has its own copy of the default list.
    assert list(InterviewFactor.objects.filter(store=vehicle_a.store).values_list("code", flat=True)) == CODES


def test_without_a_consultant_of_record_the_interview_names_the_user(sales_a, vehicle_a):
    UserFactory(username="lina_1", last_name="李", first_name="娜", stores=[vehicle_a.store])
    UserFactory(username="lina_2", last_name="李", first_name="娜", stores=[vehicle_a.store])  # two 李娜: nobody

    interview = delivery_interview_record(user=sales_a, vehicle=vehicle_a, scores=all_fives(), comment="")

    assert staff_of_record(store=vehicle_a.store, name="李娜") is None
    assert interview.consultant == sales_a
    assert SatisfactionResult.objects.get().score == 5
    assert SatisfactionResult.objects.get().verdict == "satisfied"


def test_staff_of_record_is_one_active_member_of_the_store_by_full_name_or_username(store_a, store_b, li_na):
    UserFactory(username="zhang", last_name="张", first_name="三", stores=[store_b])
    UserFactory(username="wang_left", last_name="王", first_name="五", stores=[store_a], is_active=False)

    assert staff_of_record(store=store_a, name="李娜") == li_na
    assert staff_of_record(store=store_a, name="lina") == li_na
    assert staff_of_record(store=store_a, name="张三") is None  # another store's
    assert staff_of_record(store=store_a, name="王五") is None  # has left
    assert staff_of_record(store=store_a, name="") is None


def test_a_second_interview_of_the_vehicle_is_refused_and_records_no_second_result(
    sales_a, vehicle_a, django_capture_on_commit_callbacks
):
    first = delivery_interview_record(user=sales_a, vehicle=vehicle_a, scores=all_fives(vehicle_quality=1))

    with pytest.raises(ApplicationError) as refused:
        delivery_interview_record(user=sales_a, vehicle=vehicle_a, scores=all_fives())

    assert refused.value.extra["interview"] == first
    assert refused.value.message.startswith("该车辆的交车满意度面访已于 ")
    assert DeliveryInterview.objects.count() == 1
    assert SatisfactionResult.objects.count() == 1
    assert SatisfactionResult.objects.get().score == 1


def test_a_vehicle_without_a_delivery_date_is_refused(sales_a, store_a):
    vehicle = VehicleFactory(customer=CustomerFactory(store=store_a), delivery_date=None)

    with pytest.raises(ApplicationError, match="该车辆没有交车日期"):
        delivery_interview_record(user=sales_a, vehicle=vehicle, scores=all_fives())

    assert DeliveryInterview.objects.count() == 0
    assert SatisfactionResult.objects.count() == 0


@pytest.mark.parametrize(
    ("scores", "code", "message"),
    [
        (all_fives(premises=6), "premises", "“公司外观形象和清洁度”的评分须为 1 到 5 分。"),
        (all_fives(premises=0), "premises", "“公司外观形象和清洁度”的评分须为 1 到 5 分。"),
        (all_fives(premises="x"), "premises", "“公司外观形象和清洁度”的评分须为 1 到 5 分。"),
        ({code: 5 for code in CODES[1:]}, "purchase_experience", "请为“购买经历总体满意度”打分。"),
    ],
)
def test_a_missing_or_out_of_range_score_is_refused_and_nothing_is_recorded(sales_a, vehicle_a, scores, code, message):
    with pytest.raises(ValidationError) as refused:
        delivery_interview_record(user=sales_a, vehicle=vehicle_a, scores=scores)

    assert refused.value.message_dict == {code: [message]}
    assert DeliveryInterview.objects.count() == 0
    assert SatisfactionResult.objects.count() == 0


# --- factors edited by a manager ------------------------------------------------------------------


def test_renamed_switched_off_and_added_factors_change_only_later_interviews(manager_a, sales_a, vehicle_a, store_a):
    first = delivery_interview_record(user=sales_a, vehicle=vehicle_a, scores=all_fives())
    rows = {factor.code: {"label": factor.label, "position": factor.position, "is_active": factor.is_active}
            for factor in InterviewFactor.objects.filter(store=store_a)}  # fmt: skip
    rows["vehicle_quality"]["label"] = "新车质量"
    rows["premises"]["is_active"] = False
    rows["purchase_experience"]["position"] = 99  # now asked last

    assert interview_factors_update(user=manager_a, store=store_a, rows=rows) == 3
    added = interview_factor_add(user=manager_a, store=store_a, label="试驾体验")

    assert added.code == "factor-8"
    assert added.position == 109
    asked = [factor.label for factor in interview_factors_asked(store=store_a)]
    assert asked == ["新车质量", "销售顾问的礼貌与专业水平", "车辆特性和操作方法讲解清楚", "保修范围和常规保养讲解",
                     "交车时介绍维修服务专员和客服专员", "购买经历总体满意度", "试驾体验"]  # fmt: skip
    first.refresh_from_db()
    assert [answer["label"] for answer in first.answers] == LABELS  # past answers keep the labels asked
    second_vehicle = VehicleFactory(customer=vehicle_a.customer, delivery_date=datetime.date(2026, 11, 21))
    scores = {**all_fives(), "factor-8": 3}
    scores.pop("premises")
    second = delivery_interview_record(user=sales_a, vehicle=second_vehicle, scores=scores)
    assert [answer["label"] for answer in second.answers] == asked
    assert AuditLog.objects.filter(object_type="customers.interviewfactor").count() == 4


def test_switching_off_every_factor_or_asking_one_twice_is_refused(manager_a, store_a):
    rows = {
        code: {"label": label, "position": position, "is_active": False} for code, label, position in DEFAULT_FACTORS
    }
    with pytest.raises(ValidationError, match="至少要保留一个提问中的问题"):
        interview_factors_update(user=manager_a, store=store_a, rows=rows)
    with pytest.raises(ValidationError, match="两个问题不能相同"):
        interview_factor_add(user=manager_a, store=store_a, label="爱车总体质量")

    assert InterviewFactor.objects.filter(store=store_a).count() == 0  # nothing changed: still the defaults
    assert [factor.label for factor in interview_factors_asked(store=store_a)] == LABELS


def test_the_factor_editor_page_saves_for_the_managers_own_store_only(client, manager_b, store_a, store_b):
    client.force_login(manager_b)
    data = {"action": "update"}
    for index, (_code, label, position) in enumerate(DEFAULT_FACTORS):
        data |= {f"f{index}-label": label, f"f{index}-position": position, f"f{index}-is_active": "on"}
    data["f1-label"] = "新车质量"

    response = client.post(f"{reverse('customers:interview-factors')}?store={store_a.pk}", data)

    assert response.status_code == 302
    assert InterviewFactor.objects.filter(store=store_a).count() == 0  # store A untouched
    assert InterviewFactor.objects.get(store=store_b, code="vehicle_quality").label == "新车质量"


def test_a_sales_consultant_cannot_edit_the_factors(client, sales_a, store_a):
    client.force_login(sales_a)
    response = client.post(reverse("customers:interview-factors"), {"action": "add", "label": "试驾体验"})

    assert response.status_code == 403
    assert InterviewFactor.objects.count() == 0


# --- the questionnaire page -------------------------------------------------------------------------


def test_a_sales_consultant_records_an_interview_on_the_page_and_sees_it_on_the_card(client, sales_a, vehicle_a):
    client.force_login(sales_a)
    url = reverse("customers:delivery-interview", kwargs={"pk": vehicle_a.pk})

    page = client.get(url).content.decode()
    assert page.count('type="radio"') == 35
    assert "购买经历总体满意度" in page

    response = client.post(url, form_data(all_fives(features_explained=2), "讲解太快"), follow=True)

    interview = DeliveryInterview.objects.get()
    assert response.redirect_chain == [
        (f"{reverse('customers:detail', args=[vehicle_a.customer_id])}#interview-{interview.pk}", 302)
    ]
    card = response.content.decode()
    assert "已为销售部门登记投诉" in card
    assert f'id="interview-{interview.pk}"' in card
    assert "交车满意度面访：最低 2 分（满分 5 分）" in card  # on the timeline
    assert SatisfactionResult.objects.get().statement.endswith("客户意见：讲解太快")


def test_a_missing_score_is_shown_in_chinese_and_nothing_is_saved(client, sales_a, vehicle_a):
    client.force_login(sales_a)
    scores = all_fives()
    scores.pop("warranty_explained")

    response = client.post(reverse("customers:delivery-interview", kwargs={"pk": vehicle_a.pk}), form_data(scores))

    assert response.status_code == 400
    assert "请为“保修范围和常规保养讲解”打分。" in response.content.decode()
    assert 'value="5" checked' in response.content.decode() or "checked" in response.content.decode()
    assert DeliveryInterview.objects.count() == 0
    assert SatisfactionResult.objects.count() == 0


def test_a_second_submission_is_refused_with_a_link_to_the_first(client, sales_a, vehicle_a):
    client.force_login(sales_a)
    url = reverse("customers:delivery-interview", kwargs={"pk": vehicle_a.pk})
    client.post(url, form_data(all_fives()))
    first = DeliveryInterview.objects.get()

    response = client.post(url, form_data(all_fives(premises=1)))

    assert response.status_code == 409
    page = response.content.decode()
    assert "该车辆的交车满意度面访已登记过。" in page
    assert reverse("customers:delivery-interview-detail", args=[first.pk]) in page
    assert DeliveryInterview.objects.count() == 1
    assert SatisfactionResult.objects.count() == 1
    assert SatisfactionResult.objects.get().score == 5


def test_an_undelivered_vehicle_shows_the_refusal(client, sales_a, store_a):
    vehicle = VehicleFactory(customer=CustomerFactory(store=store_a), delivery_date=None)
    client.force_login(sales_a)

    response = client.post(reverse("customers:delivery-interview", kwargs={"pk": vehicle.pk}), form_data(all_fives()))

    assert response.status_code == 400
    assert "该车辆没有交车日期" in response.content.decode()
    assert DeliveryInterview.objects.count() == 0


@pytest.mark.parametrize("persona", ["manager_b", "sales_b", "advisor_a", "agent_a"])
def test_staff_outside_the_store_or_the_sales_desk_record_nothing(request, client, persona, vehicle_a, store_b):
    if persona == "sales_b":
        user = UserFactory(username="sales_b", role=Role.SALES_CONSULTANT, stores=[store_b])
    else:
        user = request.getfixturevalue(persona)
    client.force_login(user)
    url = reverse("customers:delivery-interview", kwargs={"pk": vehicle_a.pk})

    assert client.get(url).status_code == (404 if persona in {"manager_b", "sales_b"} else 403)
    assert client.post(url, form_data(all_fives(premises=1))).status_code in {403, 404}
    assert DeliveryInterview.objects.count() == 0
    assert SatisfactionResult.objects.count() == 0


def test_a_manager_of_the_store_may_record_and_sees_the_detail(client, manager_a, vehicle_a, manager_b):
    client.force_login(manager_a)
    client.post(reverse("customers:delivery-interview", kwargs={"pk": vehicle_a.pk}), form_data(all_fives()))
    interview = DeliveryInterview.objects.get()

    detail = client.get(reverse("customers:delivery-interview-detail", args=[interview.pk]))
    assert detail.status_code == 200
    assert detail.content.decode().count('data-code="') == 7

    client.force_login(manager_b)
    assert client.get(reverse("customers:delivery-interview-detail", args=[interview.pk])).status_code == 404


# --- the managers' list ------------------------------------------------------------------------------


@pytest.fixture
def interviews(sales_a, li_na, store_a, store_b):
    """Three interviews in store A in November (two by 李娜's vehicles), one in October, one in B."""

    def record(store, *, day, consultant_name, name, month=11, **scores):
        vehicle = VehicleFactory(customer=CustomerFactory(store=store, name=name), sales_consultant=consultant_name)
        user = sales_a if store == store_a else UserFactory(role=Role.SALES_CONSULTANT, stores=[store])
        with time_machine.travel(datetime.datetime(2026, month, day, 10, 0, tzinfo=SHANGHAI), tick=False):
            return delivery_interview_record(user=user, vehicle=vehicle, scores=all_fives(**scores))

    return [
        record(store_a, day=3, consultant_name="李娜", name="陈静", purchase_experience=4, vehicle_quality=2),
        record(store_a, day=10, consultant_name="李娜", name="刘洋", purchase_experience=3),
        record(store_a, day=12, consultant_name="", name="赵磊", purchase_experience=5, premises=1),
        record(store_a, day=28, month=10, consultant_name="李娜", name="周敏", purchase_experience=1),
        record(store_b, day=5, consultant_name="", name="孙丽", purchase_experience=1),
    ]


def test_the_summary_averages_each_factor_and_the_share_with_a_low_factor(manager_a, interviews):
    queryset = delivery_interview_list(user=manager_a, date_from=datetime.date(2026, 11, 1),
                                       date_to=datetime.date(2026, 11, 30))  # fmt: skip
    summary = delivery_interview_summary(queryset)

    assert summary.total == 3
    assert summary.dissatisfied == 2
    assert str(summary.dissatisfied_share) == "66.7"
    averages = {factor.code: str(factor.average) for factor in summary.factors}
    assert averages == {
        "purchase_experience": "4.00",  # (4 + 3 + 5) / 3
        "vehicle_quality": "4.00",  # (2 + 5 + 5) / 3
        "consultant_courtesy": "5.00",
        "features_explained": "5.00",
        "warranty_explained": "5.00",
        "premises": "3.67",  # (5 + 5 + 1) / 3
        "service_staff_introduced": "5.00",
    }
    assert [factor.code for factor in summary.factors] == CODES


def test_the_list_filters_by_consultant_and_search(manager_a, li_na, interviews):
    by_li_na = delivery_interview_list(user=manager_a, consultant=li_na)
    assert [interview.customer.name for interview in by_li_na] == ["刘洋", "陈静", "周敏"]
    assert [i.customer.name for i in delivery_interview_list(user=manager_a, search="赵")] == ["赵磊"]
    assert delivery_interview_list(user=manager_a, search=interviews[1].vehicle.plate_no).get() == interviews[1]
    assert delivery_interview_summary(delivery_interview_list(user=manager_a, store=None)).total == 4


def test_the_list_page_shows_the_averages_chart_and_pins_its_queries(
    client, manager_a, interviews, django_assert_num_queries
):
    client.force_login(manager_a)
    # session, the user (role, permissions, stores), device; figures, answers, count; the store and
    # consultant choices; the page of interviews (whatever their number)
    with (
        time_machine.travel(datetime.datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI), tick=False),
        django_assert_num_queries(9),
    ):
        response = client.get(reverse("customers:delivery-interview-list"))
    page = response.content.decode()

    assert response.status_code == 200
    assert 'data-figure="total">3<' in page  # this month by default
    assert 'data-figure="dissatisfied_share">66.7%<' in page
    premises = '<tr data-code="premises"><td data-label="问题">公司外观形象和清洁度</td>'
    assert f'{premises}<td class="number" data-label="平均分（1–5）" data-average>3.67</td>' in page
    assert 'id="interview-chart"' in page
    assert "chart-4.6.1.umd.min.js" in page
    assert page.count('<tr data-interview="') == 3
    assert "孙丽" not in page  # store B


def test_a_manager_of_store_b_sees_nothing_of_store_a(client, manager_b, interviews):
    client.force_login(manager_b)
    response = client.get(reverse("customers:delivery-interview-list"), {"date_from": "2026-01-01"})
    page = response.content.decode()

    assert response.status_code == 200
    assert page.count('<tr data-interview="') == 1
    assert "孙丽" in page
    assert "陈静" not in page
    assert "刘洋" not in page
    assert 'data-figure="total">1<' in page
    assert delivery_interview_list(user=manager_b, search="陈静").count() == 0


def test_a_bad_period_is_explained(client, manager_a):
    client.force_login(manager_a)
    response = client.get(reverse("customers:delivery-interview-list"), {"date_from": "2026-13-01"})
    assert response.status_code == 400
    assert "请按 YYYY-MM-DD 格式输入日期" in response.content.decode()

    response = client.get(reverse("customers:delivery-interview-list"),
                          {"date_from": "2026-11-10", "date_to": "2026-11-01"})  # fmt: skip
    assert response.status_code == 400
    assert "结束日期早于开始日期。" in response.content.decode()


def test_sales_consultants_do_not_see_the_managers_list(client, sales_a):
    client.force_login(sales_a)
    assert client.get(reverse("customers:delivery-interview-list")).status_code == 403


def test_the_list_pages_25_at_a_time_and_its_figures_count_every_page(client, manager_a, sales_a, store_a):
    customer = CustomerFactory(store=store_a, name="车队客户")
    for index in range(27):
        vehicle = VehicleFactory(customer=customer)
        delivery_interview_record(user=sales_a, vehicle=vehicle, scores=all_fives(premises=1 if index < 9 else 5))
    client.force_login(manager_a)

    first = client.get(reverse("customers:delivery-interview-list")).content.decode()
    second = client.get(reverse("customers:delivery-interview-list"), {"page": 2}).content.decode()

    assert first.count('<tr data-interview="') == 25
    assert second.count('<tr data-interview="') == 2
    for page in (first, second):
        assert 'data-figure="total">27<' in page
        assert 'data-figure="dissatisfied_share">33.3%<' in page


def test_the_factor_editor_shows_the_default_list_and_explains_a_bad_row(client, manager_a, store_a):
    client.force_login(manager_a)
    page = client.get(reverse("customers:interview-factors")).content.decode()
    assert page.count('<tr data-code="') == 7
    assert "data-default-list" in page

    data = {"action": "update"}
    for index, (_code, label, position) in enumerate(DEFAULT_FACTORS):
        data |= {f"f{index}-label": label, f"f{index}-position": position, f"f{index}-is_active": "on"}
    data["f2-label"] = ""
    data["f3-position"] = "第四"
    response = client.post(reverse("customers:interview-factors"), data)

    assert response.status_code == 400
    assert "请填写问题内容。" in response.content.decode()
    assert "顺序须为整数。" in response.content.decode()
    assert InterviewFactor.objects.count() == 0


def test_the_factor_editor_adds_a_question_and_refuses_a_repeated_one(client, manager_a, store_a):
    client.force_login(manager_a)
    url = reverse("customers:interview-factors")

    assert client.post(url, {"action": "add", "label": "试驾体验"}).status_code == 302
    response = client.post(url, {"action": "add", "label": "试驾体验"})

    assert response.status_code == 400
    assert "两个问题不能相同。" in response.content.decode()
    assert InterviewFactor.objects.filter(store=store_a).count() == 8
    assert InterviewFactor.objects.filter(store=store_a, label="试驾体验").count() == 1

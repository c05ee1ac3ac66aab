"""Typed questionnaire questions (issue 15): the rule's validation on every way in, seed 001's
questionnaires as defaults, the call panel's inputs per type, typed answers, a low score question as
a dissatisfied result of the closed loop, the figures per satisfaction factor, and the data migration
from the plain question strings."""

import datetime
import importlib
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import translation

from customers.models import SatisfactionResult
from followups.defaults import DEFAULT_RULES, REPAIR_QUESTIONNAIRE
from followups.models import CallAttempt, FollowupRule, FollowupTask
from followups.questionnaire_scores import questionnaire_factor_scores
from followups.questionnaires import answers_typed, questionnaire_errors
from followups.services import call_statement, followup_rule_update
from tests.factories import CustomerFactory
from tests.followups.factories import CallAttemptFactory, FollowupTaskFactory, rules_for

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
D = datetime.date
migration = importlib.import_module("followups.migrations.0010_typed_questionnaires")

EVERY_TYPE = [
    {"text": "总体是否满意？", "type": "score", "factor": "repair_overall"},
    {"text": "是否按时交车？", "type": "yes_no"},
    {"text": "从哪里知道本店？", "type": "choice", "choices": ["朋友介绍", "网络", "路过"]},
    {"text": "还有什么建议？", "type": "text"},
]


@pytest.fixture
def at_monday():
    with time_machine.travel(MONDAY_10AM, tick=False):
        yield


def claimed_call(client, agent, store, questionnaire=None, code="post_repair_callback"):
    if questionnaire is not None:
        rules_for(store, **{code: {"questionnaire": questionnaire}})
    task = FollowupTaskFactory(store=store, code=code, rule_date=D(2026, 11, 23))
    client.force_login(agent)
    client.post(reverse("followups:queue_next"))
    return task


# --- the rule: defaults and validation -------------------------------------------------------------


def test_the_default_rules_ask_seed_001s_questionnaires_typed(store_a):
    rules = rules_for(store_a)

    repair = rules["post_repair_callback"].questionnaire
    assert [(question["type"], question.get("factor")) for question in repair] == [
        ("score", "repair_overall"), ("score", "repair_staff"), ("score", "work_explained"), ("score", "on_time"),
        ("score", "vehicle_clean"), ("score", "value_for_money"), ("score", "lounge"),
    ]  # fmt: skip
    assert repair[0]["text"] == "对于在我们这边检修车辆的经历，总体来说您是否满意？"
    sales = rules["delivery_thanks"].questionnaire
    assert [question["type"] for question in sales] == ["text"] + ["score"] * 6 + ["yes_no"]
    assert [question.get("factor") for question in sales[1:7]] == [
        "purchase_experience", "vehicle_quality", "consultant_courtesy", "features_explained",
        "warranty_explained", "premises",
    ]  # fmt: skip
    for code, defaults in DEFAULT_RULES.items():
        assert questionnaire_errors(defaults["questionnaire"]) == [], code
        rules[code].full_clean()


@pytest.mark.parametrize(
    ("questionnaire", "message"),
    [
        ([{"text": "问题", "type": "stars"}], "Question 1: choose its type (score 1–5, yes/no, choice or text)."),
        ([{"text": "问题", "type": "choice"}], "Question 1: a choice question needs its options."),
        ([{"text": "问题", "type": "choice", "choices": ["是", " "]}],
         "Question 1: a choice question needs its options."),
        ([{"text": "  ", "type": "text"}], "Question 1: the text is empty."),
        ([{"text": "好", "type": "text"}, {"text": "问题", "type": "text", "factor": "x"}],
         "Question 2: only a score question counts for a satisfaction factor."),
        ([{"text": "问题", "type": "score", "factor": "Repair Overall"}],
         "Question 1: a factor key is lower-case letters, digits and _ (e.g. repair_overall), at most 40."),
        ([{"text": "问题", "type": "yes_no", "choices": ["是"]}], "Question 1: only a choice question has options."),
        (["一个字符串问题"], "Question 1: give its text and type."),
        ({"text": "问题"}, "The questionnaire is a list of questions."),
    ],
)  # fmt: skip
def test_the_rule_refuses_a_bad_questionnaire_with_a_clear_message(store_a, questionnaire, message):
    rule = rules_for(store_a)["post_repair_callback"]
    rule.questionnaire = questionnaire

    with translation.override("en"), pytest.raises(ValidationError) as error:
        rule.full_clean()

    assert error.value.message_dict == {"questionnaire": [message]}


def test_the_message_is_chinese_in_the_chinese_ui(store_a):
    rule = rules_for(store_a)["post_repair_callback"]
    rule.questionnaire = [{"text": "问题", "type": "choice"}]

    with translation.override("zh-hans"), pytest.raises(ValidationError) as error:
        rule.full_clean()

    assert error.value.message_dict == {"questionnaire": ["第 1 题：选择题需要列出选项。"]}


def test_the_service_refuses_a_bad_questionnaire_and_changes_nothing(store_a, manager_a):
    rule = rules_for(store_a)["post_repair_callback"]

    with pytest.raises(ValidationError):
        followup_rule_update(rule=rule, user=manager_a, data={"questionnaire": [{"text": "问题", "type": "stars"}]})

    assert FollowupRule.objects.get(pk=rule.pk).questionnaire == REPAIR_QUESTIONNAIRE


def test_the_admin_refuses_a_choice_question_without_options(client, admin_user, store_a):
    rule = rules_for(store_a)["post_repair_callback"]
    client.force_login(admin_user)
    url = reverse("admin:followups_followuprule_change", args=[rule.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(questionnaire='[{"text": "问题", "type": "choice"}]', is_enabled="on", _save="1")

    response = client.post(url, data)

    assert response.status_code == 200
    assert "第 1 题：选择题需要列出选项。" in response.content.decode()
    assert FollowupRule.objects.get(pk=rule.pk).questionnaire == REPAIR_QUESTIONNAIRE


# --- the rule page's editor ------------------------------------------------------------------------


def rule_post(rule, **rows):
    data = {"is_enabled": "on", "channel": "phone", "offset_days": "3", "offset_months": "0",
            "interval_days": "180", "distance_km": "5000", "priority": "1", "worked_by": "queue", "script": "您好",
            "sms_template": ""}  # fmt: skip
    data.update(rows)
    return data


def test_the_rule_page_shows_one_row_per_question_with_its_type(client, manager_a, store_a):
    rule = rules_for(store_a)["lost_customer"]
    client.force_login(manager_a)

    html = client.get(reverse("followups:rule_edit", args=[rule.pk])).content.decode()

    assert html.count("data-question-row=") == 3 + 3  # the rule's three and three blank rows
    assert 'name="questionnaire-0-text"' in html
    assert 'value="choice" selected' in html
    assert 'value="否，已转让，在其他城市使用"' in html


def test_a_manager_saves_typed_questions_on_the_rule_page(client, manager_a, store_a):
    rule = rules_for(store_a)["post_repair_callback"]
    client.force_login(manager_a)
    rows = {
        "questionnaire-0-text": " 维修质量打几分？ ", "questionnaire-0-type": "score",
        "questionnaire-0-factor": "quality",
        "questionnaire-1-text": "是否按时？", "questionnaire-1-type": "yes_no",
        "questionnaire-1-choices": "left over", "questionnaire-1-factor": "",
        "questionnaire-2-text": "从哪里知道本店？", "questionnaire-2-type": "choice",
        "questionnaire-2-choices": "朋友介绍，网络, 路过、其他",
        "questionnaire-3-text": "", "questionnaire-3-type": "text",  # a blank row: no question
        "questionnaire-10-text": "建议？", "questionnaire-10-type": "text",
    }  # fmt: skip

    response = client.post(reverse("followups:rule_edit", args=[rule.pk]), rule_post(rule, **rows))

    assert response.status_code == 302
    assert FollowupRule.objects.get(pk=rule.pk).questionnaire == [
        {"text": "维修质量打几分？", "type": "score", "factor": "quality"},
        {"text": "是否按时？", "type": "yes_no"},
        {"text": "从哪里知道本店？", "type": "choice", "choices": ["朋友介绍", "网络", "路过", "其他"]},
        {"text": "建议？", "type": "text"},
    ]


def test_the_rule_page_shows_the_error_and_keeps_the_rows(client, manager_a, store_a):
    rule = rules_for(store_a)["post_repair_callback"]
    client.force_login(manager_a)
    rows = {"questionnaire-0-text": "从哪里知道本店？", "questionnaire-0-type": "choice", "questionnaire-0-choices": ""}

    response = client.post(reverse("followups:rule_edit", args=[rule.pk]), rule_post(rule, **rows))

    html = response.content.decode()
    assert response.status_code == 200
    assert "第 1 题：选择题需要列出选项。" in html
    assert "从哪里知道本店？</textarea>" in html
    assert FollowupRule.objects.get(pk=rule.pk).questionnaire == REPAIR_QUESTIONNAIRE


# --- the call panel --------------------------------------------------------------------------------


def test_the_call_panel_renders_each_type_with_its_input(client, agent_a, store_a, at_monday):
    task = claimed_call(client, agent_a, store_a, EVERY_TYPE)

    html = client.get(reverse("followups:call", args=[task.customer_id])).content.decode()

    field = f"answer-{task.pk}"
    for score in range(1, 6):
        assert f'<input type="radio" id="{field}-0-{score}" name="{field}-0" value="{score}">' in html
    assert f'id="{field}-1-yes" name="{field}-1" value="yes"> 是</label>' in html
    assert f'id="{field}-1-no" name="{field}-1" value="no"> 否</label>' in html
    assert f'<select id="{field}-2" name="{field}-2">' in html
    assert '<option value="网络">网络</option>' in html
    assert f'<textarea id="{field}-3" name="{field}-3" rows="2" maxlength="500"></textarea>' in html
    assert 'data-question-type="score" data-factor="repair_overall"' in html


def test_answers_are_stored_typed_with_their_question(client, agent_a, store_a, at_monday):
    task = claimed_call(client, agent_a, store_a, EVERY_TYPE)

    response = client.post(
        reverse("followups:call_outcome", args=[task.customer_id]),
        {"outcome": "reached", f"answer-{task.pk}-0": "4", f"answer-{task.pk}-1": "no",
         f"answer-{task.pk}-2": "网络", f"answer-{task.pk}-3": " 休息区再安静些 "},
    )  # fmt: skip

    assert response.status_code == 302
    attempt = CallAttempt.objects.get()
    assert attempt.answers == {
        "0": {"question": "总体是否满意？", "type": "score", "value": 4, "factor": "repair_overall"},
        "1": {"question": "是否按时交车？", "type": "yes_no", "value": False},
        "2": {"question": "从哪里知道本店？", "type": "choice", "value": "网络"},
        "3": {"question": "还有什么建议？", "type": "text", "value": "休息区再安静些"},
    }
    assert attempt.is_dissatisfied is False
    assert SatisfactionResult.objects.count() == 0  # a 4 without an overall score is no result


def test_a_score_question_answered_2_is_a_dissatisfied_result_that_opens_a_complaint(
    client, agent_a, store_a, at_monday, django_capture_on_commit_callbacks
):
    from complaints.models import Complaint

    task = claimed_call(client, agent_a, store_a, EVERY_TYPE)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("followups:call_outcome", args=[task.customer_id]),
            {"outcome": "reached", "satisfaction": "4", f"answer-{task.pk}-0": "2", f"answer-{task.pk}-1": "yes",
             "notes": "等了很久"},
            headers={"HX-Request": "true"},
        )  # fmt: skip

    attempt = CallAttempt.objects.get()
    assert (attempt.satisfaction, attempt.is_dissatisfied) == (4, True)
    result = SatisfactionResult.objects.get()
    assert (result.reference, result.score, result.verdict, result.department) == (
        f"callattempt:{attempt.pk}",
        4,
        "dissatisfied",
        "service",
    )
    assert result.statement == "总体是否满意？: 2分（满分5分）\n是否按时交车？: 是\n等了很久"
    complaint = Complaint.objects.get(customer=task.customer)
    assert complaint.department == "service"
    assert 'data-action="log-complaint"' in response.content.decode()


def test_a_score_of_3_on_a_question_is_not_dissatisfied(client, agent_a, store_a, at_monday):
    task = claimed_call(client, agent_a, store_a, EVERY_TYPE)

    client.post(reverse("followups:call_outcome", args=[task.customer_id]),
                {"outcome": "reached", "satisfaction": "5", f"answer-{task.pk}-0": "3"})  # fmt: skip

    assert CallAttempt.objects.get().is_dissatisfied is False
    assert SatisfactionResult.objects.get().verdict == "satisfied"  # the overall 5, as before


def test_the_low_score_counts_for_its_own_task_only(client, agent_a, store_a, at_monday):
    customer = CustomerFactory(store=store_a)
    day = D(2026, 11, 23)
    repair = FollowupTaskFactory(store=store_a, customer=customer, code="post_repair_callback", rule_date=day)
    delivery = FollowupTaskFactory(store=store_a, customer=customer, code="delivery_thanks", rule_date=day)
    client.force_login(agent_a)
    client.post(reverse("followups:queue_next"))

    client.post(reverse("followups:call_outcome", args=[customer.pk]),
                {"outcome": "reached", f"answer-{repair.pk}-3": "1", f"answer-{delivery.pk}-1": "5"})  # fmt: skip

    attempts = {attempt.task_id: attempt for attempt in CallAttempt.objects.all()}
    assert (attempts[repair.pk].is_dissatisfied, attempts[delivery.pk].is_dissatisfied) == (True, False)
    assert list(SatisfactionResult.objects.values_list("rule_code", "verdict", "department")) == [
        ("post_repair_callback", "dissatisfied", "service")
    ]


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [("0", "7", "“总体是否满意？”：评分为 1 到 5 分。"), ("1", "maybe", "“是否按时交车？”：请回答是或否。"),
     ("2", "电视", "“从哪里知道本店？”：请选择列出的选项之一。")],
)  # fmt: skip
def test_a_value_the_question_does_not_allow_is_refused_and_nothing_recorded(
    client, agent_a, store_a, at_monday, index, value, message
):
    task = claimed_call(client, agent_a, store_a, EVERY_TYPE)

    response = client.post(reverse("followups:call_outcome", args=[task.customer_id]),
                           {"outcome": "reached", f"answer-{task.pk}-{index}": value})  # fmt: skip

    assert response.status_code == 200
    assert message in response.content.decode()
    assert CallAttempt.objects.count() == 0
    assert FollowupTask.objects.get(pk=task.pk).status == "open"


def test_a_refused_call_comes_back_with_every_answer_kept(client, agent_a, store_a, at_monday):
    task = claimed_call(client, agent_a, store_a, EVERY_TYPE)
    field = f"answer-{task.pk}"

    response = client.post(reverse("followups:call_outcome", args=[task.customer_id]),
                           {"outcome": "reached", f"{field}-0": "2", f"{field}-1": "yes", f"{field}-2": "电视",
                            f"{field}-3": "再联系"})  # fmt: skip

    html = response.content.decode()
    assert f'id="{field}-0-2" name="{field}-0" value="2" checked>' in html
    assert f'id="{field}-1-yes" name="{field}-1" value="yes" checked>' in html
    assert 'maxlength="500">再联系</textarea>' in html
    assert CallAttempt.objects.count() == 0


def test_answers_typed_ignores_unknown_indexes_and_blanks():
    assert answers_typed(EVERY_TYPE, {"9": "x", "0": " ", "1": "是", "a": "y"}) == {
        "1": {"question": "是否按时交车？", "type": "yes_no", "value": True}
    }


def test_the_statement_reads_old_plain_answers_under_the_rules_question():
    questionnaire = [{"text": "问题一", "type": "text"}, {"text": "问题二", "type": "score"}]
    answers = {"1": {"question": "问题二", "type": "score", "value": 5}, "0": "旧的回答"}

    assert call_statement(questionnaire=questionnaire, answers=answers, notes=" 备注 ") == (
        "问题一: 旧的回答\n问题二: 5分（满分5分）\n备注"
    )


# --- the figures per factor ------------------------------------------------------------------------


def score(question, value, factor=""):
    return {"question": question, "type": "score", "value": value, **({"factor": factor} if factor else {})}


def test_factor_scores_per_factor_and_question_for_the_users_stores(
    manager_a, store_a, store_b, django_assert_num_queries
):
    at = MONDAY_10AM
    task_a = FollowupTaskFactory(store=store_a, code="post_repair_callback")
    CallAttemptFactory(task=task_a, at=at, answers={"0": score("总体", 2, "repair_overall"), "1": score("环境", 5)})
    text_answer = {"question": "建议", "type": "text", "value": "5"}
    CallAttemptFactory(task=task_a, at=at, answers={"0": score("总体（新）", 5, "repair_overall"), "2": text_answer})
    CallAttemptFactory(task=task_a, at=at, answers={"0": score("总体", 4, "repair_overall")})
    earlier = at - datetime.timedelta(days=40)
    CallAttemptFactory(task=task_a, at=earlier, answers={"0": score("总体", 1, "repair_overall")})
    CallAttemptFactory(task=task_a, at=at, answers={"0": "旧的纯文本回答"})
    task_b = FollowupTaskFactory(store=store_b)
    CallAttemptFactory(task=task_b, at=at, answers={"0": score("总体", 1, "repair_overall")})

    with django_assert_num_queries(2):  # the manager's stores, then the one statement
        rows = questionnaire_factor_scores(user=manager_a, start=D(2026, 11, 1), end=D(2026, 11, 30))

    assert rows == [
        {"factor": "repair_overall", "question": "总体", "count": 3, "average": Decimal("3.67")},
        {"factor": "", "question": "环境", "count": 1, "average": Decimal("5.00")},
    ]


def test_the_reports_page_shows_the_factor_table(client, manager_a, store_a):
    task = FollowupTaskFactory(store=store_a, code="post_repair_callback")
    CallAttemptFactory(task=task, at=MONDAY_10AM, answers={"0": score("总体", 2, "repair_overall")})
    client.force_login(manager_a)

    html = client.get(reverse("followups:reports"), {"start": "2026-11-01", "end": "2026-11-30"}).content.decode()

    assert 'data-table="factor-scores"' in html
    assert (
        '<tr data-factor="repair_overall"><td>repair_overall</td><td>总体</td><td class="number" data-count>1</td>'
        '<td class="number" data-average>2.00</td></tr>'
    ) in html


# --- the data migration ----------------------------------------------------------------------------


class _Editor:
    def execute(self, sql, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql, params or None)


def test_the_migration_types_old_questionnaires_and_answers_once(store_a):
    rules = rules_for(store_a)
    old_repair = migration.OLD_DEFAULTS["post_repair_callback"]
    FollowupRule.objects.filter(pk=rules["post_repair_callback"].pk).update(questionnaire=old_repair)
    FollowupRule.objects.filter(pk=rules["delivery_thanks"].pk).update(questionnaire=["问题一", " ", "问题二"])
    FollowupRule.objects.filter(pk=rules["birthday"].pk).update(questionnaire=[])
    task = FollowupTaskFactory(store=store_a, code="post_repair_callback")
    old = CallAttemptFactory(task=task, answers={"0": "不满意", "x": "备注"})
    empty = CallAttemptFactory(task=task, answers={})

    migration.to_typed(apps, _Editor())
    migration.to_typed(apps, _Editor())

    assert FollowupRule.objects.get(pk=rules["post_repair_callback"].pk).questionnaire == REPAIR_QUESTIONNAIRE
    assert FollowupRule.objects.get(pk=rules["delivery_thanks"].pk).questionnaire == [
        {"text": "问题一", "type": "text"},
        {"text": "问题二", "type": "text"},
    ]
    assert FollowupRule.objects.get(pk=rules["birthday"].pk).questionnaire == []
    assert CallAttempt.objects.get(pk=old.pk).answers == {
        "0": {"question": old_repair[0], "type": "text", "value": "不满意"},
        "x": {"question": "", "type": "text", "value": "备注"},
    }
    assert CallAttempt.objects.get(pk=empty.pk).answers == {}
    for rule in FollowupRule.objects.filter(store=store_a):
        rule.full_clean()


def test_the_migration_goes_back_to_plain_strings(store_a):
    rule = rules_for(store_a)["delivery_thanks"]
    attempt = CallAttemptFactory(
        task=FollowupTaskFactory(store=store_a), answers={"0": {"question": "问", "type": "score", "value": 2}}
    )

    migration.to_strings(apps, _Editor())

    assert FollowupRule.objects.get(pk=rule.pk).questionnaire[0] == "请问您是车主本人吗？您的联系地址是？"
    assert CallAttempt.objects.get(pk=attempt.pk).answers == {"0": "2"}

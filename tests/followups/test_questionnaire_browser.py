"""In headless Chromium, on a phone (390 px) and a desk (1366 px): an agent answers the repair
questionnaire's first score question with 2 by tapping it, saves, and the call is recorded as a
dissatisfied result that offers the complaint; the questionnaire's inputs fit the screen."""

import pytest
from django.utils import timezone

from crm.choices import Role
from customers.models import SatisfactionResult
from followups.models import CallAttempt
from tests.browser import browser_page, log_in, save_screenshot  # noqa: F401 - fixture
from tests.factories import CustomerFactory, StoreFactory, UserFactory
from tests.followups.factories import ALL_DAY, FollowupTaskFactory, rules_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1366])
def test_an_agent_scores_a_question_2_and_sees_the_dissatisfied_path(browser_page, live_server, width):  # noqa: F811
    store = StoreFactory(code="NJ01", name="江宁店", **ALL_DAY)
    UserFactory(username="agent_web", role=Role.CALL_AGENT, stores=[store], password="agent-pw-123")
    task = FollowupTaskFactory(
        store=store, customer=CustomerFactory(store=store, name="李雷"), code="post_repair_callback",
        rule_date=timezone.localdate(),
    )  # fmt: skip
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})

    log_in(page, live_server, "agent_web", "agent-pw-123")
    page.goto(f"{live_server.url}/followups/queue/")
    page.click('[data-action="next-call"]')
    page.locator(f'[data-call-customer="{task.customer_id}"]').wait_for()

    questions = page.locator(f'[data-task="{task.pk}"] .questionnaire > li')
    assert questions.count() == 7
    assert page.locator(f'[data-task="{task.pk}"] [data-question-type="score"]').count() == 7
    # Every 1–5 option of every question is on screen without scrolling sideways.
    for box in page.locator(f'[data-task="{task.pk}"] .answer-option').all():
        bounds = box.bounding_box()
        assert bounds["x"] >= 0
        assert bounds["x"] + bounds["width"] <= width
    first_question = page.locator(f'[data-task="{task.pk}"] .questionnaire > li').first
    assert "对于在我们这边检修车辆的经历" in first_question.inner_text()
    first_question.locator("label.answer-option", has_text="2").click()  # a tap on the option's box
    assert page.is_checked(f"#answer-{task.pk}-0-2")
    page.check('[data-outcome="reached"] input')
    save_screenshot(page, f"questionnaire-score-{width}")
    page.click('[data-action="save-outcome"]')

    saved = page.locator('[data-saved="true"]')
    saved.wait_for()
    assert "不满意" in saved.inner_text()
    assert saved.locator('[data-action="log-complaint"]').count() == 1
    attempt = CallAttempt.objects.get()
    assert attempt.answers["0"] == {
        "question": "对于在我们这边检修车辆的经历，总体来说您是否满意？", "type": "score", "value": 2,
        "factor": "repair_overall",
    }  # fmt: skip
    assert attempt.is_dissatisfied is True
    assert list(SatisfactionResult.objects.values_list("verdict", "department")) == [("dissatisfied", "service")]


def test_a_manager_makes_a_question_a_choice_on_a_phone(browser_page, live_server):  # noqa: F811
    store = StoreFactory(code="NJ01", name="江宁店")
    UserFactory(username="manager_web", role=Role.MANAGER, stores=[store], password="manager-pw-123")
    rule = rules_for(store)["first_service_invite"]
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 900})

    log_in(page, live_server, "manager_web", "manager-pw-123")
    page.goto(f"{live_server.url}/followups/rules/{rule.pk}/")
    assert page.locator("[data-question-row]").count() == 2 + 3
    page.select_option("#id_questionnaire-1-type", "choice")
    page.fill("#id_questionnaire-1-choices", "本周，下周，下个月")
    page.fill("#id_questionnaire-2-text", "是否需要代步车？")
    page.select_option("#id_questionnaire-2-type", "yes_no")
    save_screenshot(page, "questionnaire-rule-editor-390")
    assert page.evaluate("document.querySelector('[data-editor=questionnaire]').scrollWidth") <= 390
    page.click('[data-action="save-rule"]')
    page.wait_for_load_state("domcontentloaded")

    assert page.locator("#id_questionnaire-1-choices").input_value() == "本周，下周，下个月"
    rule.refresh_from_db()
    assert rule.questionnaire == [
        {"text": "是否已了解首保里程和时间？", "type": "yes_no"},
        {"text": "希望预约的回店日期？", "type": "choice", "choices": ["本周", "下周", "下个月"]},
        {"text": "是否需要代步车？", "type": "yes_no"},
    ]

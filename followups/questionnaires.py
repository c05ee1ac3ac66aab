"""Typed questionnaires of the follow-up rules (docs/followups.md, "Questionnaires").

A rule's ``questionnaire`` is a list of questions, each ``{"text", "type", "choices"?, "factor"?}``:

- ``type`` is one of ``QuestionType``: a score 1–5, yes/no, a choice among ``choices`` (listed
  options, only for that type) or free text;
- ``factor`` (score questions only, optional) names the satisfaction factor the score counts for
  (the OEM's factors, e.g. ``repair_overall``), so the reports can average it across rules.

A call's answers are stored typed on its ``CallAttempt.answers``, keyed by the question's index:
``{"0": {"question": …, "type": "score", "value": 2, "factor": "repair_overall"}}`` (value: an int
for a score, a bool for yes/no, the option for a choice, the text for a text question). The
question's text and factor are kept with the answer, so editing the rule later changes no past call.

A score of ``DISSATISFIED_SCORE`` (2) or less on any score question is a dissatisfied result of the
closed loop, like the call's overall satisfaction (docs/followups.md, "Closed loop"). The figures
per factor for the reports are in ``followups.questionnaire_scores``.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.satisfaction import DISSATISFIED_SCORE


class QuestionType(models.TextChoices):
    SCORE = "score", gettext_lazy("Score 1–5")
    YES_NO = "yes_no", gettext_lazy("Yes / no")
    CHOICE = "choice", gettext_lazy("Choice (listed options)")
    TEXT = "text", gettext_lazy("Free text")


SCORES = (1, 2, 3, 4, 5)
YES, NO = "yes", "no"
MAX_QUESTIONS = 30
MAX_TEXT_LENGTH = 300
MAX_CHOICES = 20
MAX_CHOICE_LENGTH = 50
MAX_ANSWER_LENGTH = 500
FACTOR_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Options typed on the rule page are separated by commas (also the Chinese ones) or 、.
CHOICE_SEPARATORS = re.compile(r"[,，、\n]")


def choices_split(text: str) -> list[str]:
    """Options typed as one line ("是，否、不确定") as a list, blanks dropped."""
    return [option.strip() for option in CHOICE_SEPARATORS.split(text or "") if option.strip()]


def question_of(item) -> dict:
    """A stored question as a dict; a plain string (a questionnaire saved before questions were
    typed) is a text question."""
    if isinstance(item, str):
        return {"text": item, "type": QuestionType.TEXT.value}
    return item if isinstance(item, dict) else {"text": "", "type": ""}


def questions_of(questionnaire) -> list[dict]:
    return [question_of(item) for item in questionnaire] if isinstance(questionnaire, list) else []


def questionnaire_errors(questionnaire) -> list[str]:
    """What is wrong with a questionnaire, as translated messages naming the question (empty: valid).
    Used by ``FollowupRule.clean``: the rule page, the admin and the service all go through it."""
    if not isinstance(questionnaire, list):
        return [_("The questionnaire is a list of questions.")]
    if len(questionnaire) > MAX_QUESTIONS:
        return [_("A questionnaire has at most %(count)s questions.") % {"count": MAX_QUESTIONS}]
    errors = []
    for number, item in enumerate(questionnaire, start=1):
        errors += [message % {"number": number} for message in _question_errors(item)]
    return errors


def _question_errors(item) -> list[str]:
    """What is wrong with one question: messages with ``%(number)s`` for its place."""
    if not isinstance(item, dict):
        return [_("Question %(number)s: give its text and type.")]
    errors = []
    if set(item) - {"text", "type", "choices", "factor"}:
        errors.append(_("Question %(number)s: only text, type, choices and factor are kept."))
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        errors.append(_("Question %(number)s: the text is empty."))
    elif len(text) > MAX_TEXT_LENGTH:
        errors.append(_("Question %(number)s: the text is longer than 300 characters."))
    kind = item.get("type")
    if kind not in QuestionType.values:
        return [*errors, _("Question %(number)s: choose its type (score 1–5, yes/no, choice or text).")]
    choices = item.get("choices")
    if kind == QuestionType.CHOICE:
        if (
            not isinstance(choices, list)
            or not choices
            or not all(isinstance(option, str) and option.strip() for option in choices)
        ):
            errors.append(_("Question %(number)s: a choice question needs its options."))
        elif len(choices) > MAX_CHOICES or any(len(option) > MAX_CHOICE_LENGTH for option in choices):
            errors.append(_("Question %(number)s: at most 20 options of 50 characters each."))
        elif len(set(choices)) != len(choices):
            errors.append(_("Question %(number)s: an option is listed twice."))
    elif choices:
        errors.append(_("Question %(number)s: only a choice question has options."))
    factor = item.get("factor")
    if factor:
        if kind != QuestionType.SCORE:
            errors.append(_("Question %(number)s: only a score question counts for a satisfaction factor."))
        elif not isinstance(factor, str) or not FACTOR_PATTERN.match(factor):
            errors.append(
                _(
                    "Question %(number)s: a factor key is lower-case letters, digits and _ "
                    "(e.g. repair_overall), at most 40."
                )
            )
    return errors


# --- answers ----------------------------------------------------------------------------------


def answers_typed(questionnaire, raw: dict) -> dict[str, dict]:
    """The answers posted for one task (``{index: text}``) typed by the rule's questions:
    ``{index: {"question", "type", "value", "factor"?}}``. An index the questionnaire does not have
    (a hand-made request) and a blank answer are left out. Raises ``ValidationError`` with a
    translated message naming the question for a value its type does not allow."""
    questions = questions_of(questionnaire)
    typed: dict[str, dict] = {}
    for key, value in (raw or {}).items():
        if not str(key).isdecimal() or int(key) >= len(questions) or not isinstance(value, str) or not value.strip():
            continue
        question = questions[int(key)]
        kind = question.get("type")
        value = value.strip()
        name = question.get("text", "")
        if kind == QuestionType.SCORE:
            if value not in {str(score) for score in SCORES}:
                raise ValidationError(_("“%(question)s”: a score is 1 to 5.") % {"question": name})
            answer = int(value)
        elif kind == QuestionType.YES_NO:
            if value in (YES, "是"):
                answer = True
            elif value in (NO, "否"):
                answer = False
            else:
                raise ValidationError(_("“%(question)s”: answer yes or no.") % {"question": name})
        elif kind == QuestionType.CHOICE:
            if value not in (question.get("choices") or []):
                raise ValidationError(_("“%(question)s”: choose one of the listed options.") % {"question": name})
            answer = value
        else:
            answer = value[:MAX_ANSWER_LENGTH]
        entry = {"question": name, "type": kind, "value": answer}
        if kind == QuestionType.SCORE and question.get("factor"):
            entry["factor"] = question["factor"]
        typed[str(int(key))] = entry
    return typed


def answers_are_dissatisfied(answers: dict) -> bool:
    """Whether a score question was answered ``DISSATISFIED_SCORE`` (2) or less."""
    return any(
        isinstance(answer, dict)
        and answer.get("type") == QuestionType.SCORE
        and isinstance(answer.get("value"), int)
        and answer["value"] <= DISSATISFIED_SCORE
        for answer in (answers or {}).values()
    )


def answer_display(answer) -> str:
    """An answer as staff read it (score "2分（满分5分）", "是"/"否", the option or the text)."""
    if not isinstance(answer, dict):
        return str(answer)
    kind, value = answer.get("type"), answer.get("value")
    if kind == QuestionType.SCORE:
        return _("%(score)s of 5") % {"score": value}
    if kind == QuestionType.YES_NO:
        return _("Yes") if value else _("No")
    return str(value)


def answers_statement_lines(questionnaire, answers: dict) -> list[str]:
    """One line "question: answer" per answered question, in the questionnaire's order, in the
    site's language (the statement is stored and read by other staff, e.g. on a complaint)."""
    questions = questions_of(questionnaire)
    lines = []
    with translation.override(settings.LANGUAGE_CODE):
        for key in sorted((answers or {}), key=lambda key: int(key) if str(key).isdecimal() else 10**6):
            answer = answers[key]
            if isinstance(answer, dict):
                question = answer.get("question") or ""
                shown = answer_display(answer)
            else:  # an answer recorded before questions were typed: the text, under the rule's question
                index = int(key) if str(key).isdecimal() else -1
                question = questions[index].get("text", "") if 0 <= index < len(questions) else str(key)
                shown = str(answer)
            if shown:
                lines.append(f"{question}: {shown}" if question else shown)
    return lines


def panel_questions(questionnaire, posted: dict, task_id: int) -> list[dict]:
    """The questions of a task as the call panel renders them, each with the answer typed when the
    page comes back after a refusal (``posted``: the request's POST, or empty)."""
    rows = []
    for index, question in enumerate(questions_of(questionnaire)):
        rows.append(
            {
                "index": index,
                "field": f"answer-{task_id}-{index}",
                "text": question.get("text", ""),
                "type": question.get("type") or QuestionType.TEXT.value,
                "choices": question.get("choices") or [],
                "scale": [str(score) for score in SCORES],
                "factor": question.get("factor", ""),
                "answer": posted.get(f"answer-{task_id}-{index}", "") if posted else "",
            }
        )
    return rows

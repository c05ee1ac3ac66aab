"""The delivery interview (交车满意度面访): a store's factors and the interview recorded at handover.

Each factor is scored 1–5 by the buyer; the interview is stored once per vehicle and recorded as a
satisfaction result (score = the lowest factor) so the closed loop opens a complaint for the sales
department when a factor is ≤ 2 (the complaints app listens to ``satisfaction_result_record``)."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.exceptions import ApplicationError
from crm.models import Store, User
from customers.choices import Department, SatisfactionSource
from customers.models import DeliveryInterview, InterviewFactor, Vehicle
from customers.satisfaction import satisfaction_result_record
from customers.selectors.interviews import DEFAULT_FACTORS, staff_of_record

MIN_SCORE = 1
MAX_SCORE = 5


def interview_factors_ensure(*, store: Store) -> None:
    """Give a store that has no factor yet the default list (safe to run twice or at once)."""
    if InterviewFactor.objects.filter(store=store).exists():
        return
    InterviewFactor.objects.bulk_create(
        [
            InterviewFactor(store=store, code=code, label=label, position=position)
            for code, label, position in DEFAULT_FACTORS
        ],
        ignore_conflicts=True,
    )


def _audit_factors(*, user, store: Store, change: str, factor: InterviewFactor) -> None:
    audit_log_record(
        actor=user,
        action=AuditAction.CHANGE_SETTINGS,
        object_type="customers.interviewfactor",
        object_ids=[factor.pk],
        detail={"store": store.pk, "change": change, "code": factor.code, "label": factor.label,
                "position": factor.position, "is_active": factor.is_active},
    )  # fmt: skip


@transaction.atomic
def interview_factor_add(*, user, store: Store, label: str) -> InterviewFactor:
    """Add a factor at the end of the store's list (asked from the next interview on)."""
    interview_factors_ensure(store=store)
    label = (label or "").strip()
    factors = InterviewFactor.objects.select_for_update().filter(store=store)
    if any(factor.label == label for factor in factors):
        raise ValidationError({"label": _("Two questions cannot be the same.")})
    codes = {factor.code for factor in factors}
    code, number = slugify(label)[:30], len(codes)  # a Chinese label has no slug: factor-8, factor-9…
    while not code or code in codes:
        number += 1
        code = f"factor-{number}"
    last = factors.aggregate(last=Max("position"))["last"] or 0
    factor = InterviewFactor(store=store, code=code, label=label, position=last + 10)
    factor.full_clean()
    factor.save()
    _audit_factors(user=user, store=store, change="add", factor=factor)
    return factor


@transaction.atomic
def interview_factors_update(*, user, store: Store, rows: Mapping[str, Mapping]) -> int:
    """Rename, reorder or switch off the store's factors: ``rows`` maps a factor's code to its new
    ``label``, ``position`` and ``is_active`` (a store still on the default list gets it first).
    At least one factor stays asked and no two ask the same question. Returns how many factors
    changed; past interviews keep the labels they were asked with."""
    interview_factors_ensure(store=store)
    factors = {factor.code: factor for factor in InterviewFactor.objects.select_for_update().filter(store=store)}
    if set(rows) - set(factors):
        raise ValidationError(_("The questionnaire changed meanwhile: open the page again."))
    changed = []
    for code, values in rows.items():
        factor = factors[code]
        new = (values["label"].strip(), values["position"], values["is_active"])
        if new != (factor.label, factor.position, factor.is_active):
            factor.label, factor.position, factor.is_active = new
            changed.append(factor)
    if not any(factor.is_active for factor in factors.values()):
        raise ValidationError(_("At least one question must stay asked."))
    if len({factor.label for factor in factors.values()}) != len(factors):
        raise ValidationError(_("Two questions cannot be the same."))
    for factor in changed:
        factor.full_clean()
        factor.save()
        _audit_factors(user=user, store=store, change="update", factor=factor)
    return len(changed)


def _statement(*, answers: list[dict], comment: str) -> str:
    lines = [
        _("%(factor)s: %(score)s of 5") % {"factor": answer["label"], "score": answer["score"]} for answer in answers
    ]
    if comment:
        lines.append(_("Customer's comment: %(comment)s") % {"comment": comment})
    return "\n".join(lines)


def delivery_interview_record(
    *, user, vehicle: Vehicle, scores: Mapping[str, int], comment: str = ""
) -> DeliveryInterview:
    """Record the buyer's delivery interview: ``scores`` maps each asked factor's code to a score
    1–5 (every factor the store asks now is required). Refused (``ApplicationError``) for a vehicle
    without a delivery date or already interviewed (``extra["interview"]`` is the first one);
    ``ValidationError`` for a missing or out-of-range score. Then records the satisfaction result
    (department sales, score = the lowest factor), whose listeners open the sales complaint."""
    with transaction.atomic():
        vehicle = Vehicle.objects.select_for_update().select_related("customer", "store").get(pk=vehicle.pk)
        if vehicle.delivery_date is None:
            raise ApplicationError(_("This vehicle has no delivery date: a delivery interview follows a delivery."))
        existing = DeliveryInterview.objects.filter(vehicle=vehicle).first()
        if existing is not None:
            raise ApplicationError(
                _("This vehicle's delivery interview was already recorded on %(date)s.")
                % {"date": timezone.localtime(existing.interviewed_at).strftime("%Y-%m-%d")},
                extra={"interview": existing},
            )
        interview_factors_ensure(store=vehicle.store)
        factors = list(InterviewFactor.objects.filter(store=vehicle.store, is_active=True).order_by("position", "id"))
        errors = {}
        answers = []
        for factor in factors:
            score = scores.get(factor.code)
            try:
                score = int(score) if score not in (None, "") else None
            except (TypeError, ValueError):
                score = 0
            if score is None:
                errors[factor.code] = _("Give a score for “%(factor)s”.") % {"factor": factor.label}
            elif not MIN_SCORE <= score <= MAX_SCORE:
                errors[factor.code] = _("A score for “%(factor)s” is from 1 to 5.") % {"factor": factor.label}
            else:
                answers.append({"code": factor.code, "label": factor.label, "score": score})
        unknown = set(scores) - {factor.code for factor in factors}
        if unknown:
            errors["__all__"] = _("The questionnaire changed meanwhile: open the page again.")
        if errors:
            raise ValidationError(errors)
        comment = (comment or "").strip()
        now = timezone.now()
        interview = DeliveryInterview(
            vehicle=vehicle,
            customer=vehicle.customer,
            store=vehicle.store,
            interviewed_at=now,
            consultant=staff_of_record(store=vehicle.store, name=vehicle.sales_consultant) or _user_or_none(user),
            answers=answers,
            lowest_score=min(answer["score"] for answer in answers),
            comment=comment,
            recorded_by=_user_or_none(user),
        )
        interview.full_clean(exclude=["vehicle"])
        try:
            with transaction.atomic():
                interview.save()
        except IntegrityError:  # the same vehicle interviewed at the same moment elsewhere
            raise ApplicationError(_("This vehicle's delivery interview was already recorded.")) from None
        satisfaction_result_record(
            customer=vehicle.customer,
            department=Department.SALES,
            source=SatisfactionSource.DELIVERY_INTERVIEW,
            reference=f"deliveryinterview:{interview.pk}",
            at=now,
            score=interview.lowest_score,
            statement=_statement(answers=answers, comment=comment),
            user=user,
        )
    return interview


def _user_or_none(user) -> User | None:
    return user if getattr(user, "pk", None) else None

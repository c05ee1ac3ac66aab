"""Reads of the delivery interview (交车满意度面访): a store's factors, the staff of record, the
interviews a user may see, and the managers' list with its averages per factor."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from crm.compiled_reads import compiled_read
from crm.models import Store, User
from crm.scoping import scope_to_user_stores, visible_store_ids
from crm.selectors import staff_of_record as crm_staff_of_record
from customers.models import Customer, DeliveryInterview, InterviewFactor, Vehicle
from customers.selectors import customer_visibility_condition, once_per_card, vehicle_queryset_for_user

# The sales questionnaire of the dealership's practice (销售回访问卷, questions 2–8: the identity
# check and the closing words are not factors), asked at handover: (code, label, order). The labels
# are the questions as staff read them out, stored in Chinese as data.
DEFAULT_FACTORS: tuple[tuple[str, str, int], ...] = (
    ("purchase_experience", "购买经历总体满意度", 10),
    ("vehicle_quality", "爱车总体质量", 20),
    ("consultant_courtesy", "销售顾问的礼貌与专业水平", 30),
    ("features_explained", "车辆特性和操作方法讲解清楚", 40),
    ("warranty_explained", "保修范围和常规保养讲解", 50),
    ("premises", "公司外观形象和清洁度", 60),
    ("service_staff_introduced", "交车时介绍维修服务专员和客服专员", 70),
)
DISSATISFIED_FACTOR_SCORE = 2  # a factor ≤ 2 of 5 opens a complaint for sales


def staff_of_record(*, store: Store, name: str) -> User | None:
    """The member of staff a DMS name means in ``store`` (the follow-ups' rule: ``crm.selectors``)."""
    return crm_staff_of_record(store_id=store.pk, name=name)


def interview_factors_all(*, store: Store) -> list[InterviewFactor]:
    """Every factor of the store, asked or not, in order (the defaults, unsaved, for a store that
    has none yet)."""
    factors = list(InterviewFactor.objects.filter(store=store).order_by("position", "id"))
    if factors:
        return factors
    return [
        InterviewFactor(store=store, code=code, label=label, position=position)
        for code, label, position in DEFAULT_FACTORS
    ]


def interview_factors_asked(*, store: Store) -> list[InterviewFactor]:
    """The factors a new interview of the store asks, in order."""
    return [factor for factor in interview_factors_all(store=store) if factor.is_active]


def interview_vehicle_get_for_user(*, user, pk) -> Vehicle:
    """The vehicle to interview about, or 404 when it is outside what the user may see."""
    try:
        return vehicle_queryset_for_user(user).select_related("customer", "store").get(pk=pk)
    except (Vehicle.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def delivery_interview_queryset_for_user(user) -> QuerySet[DeliveryInterview]:
    """Interviews of the stores the user works in, on cards the user may see."""
    queryset = scope_to_user_stores(DeliveryInterview.objects.all(), user)
    if user.is_superuser:
        return queryset
    return queryset.filter(customer_visibility_condition(user, prefix="customer__"))


def delivery_interview_get_for_user(*, user, pk) -> DeliveryInterview:
    try:
        return (
            delivery_interview_queryset_for_user(user)
            .select_related("vehicle", "customer", "store", "consultant", "recorded_by")
            .get(pk=pk)
        )
    except (DeliveryInterview.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def customer_delivery_interviews(*, customer: Customer) -> dict[int, DeliveryInterview]:
    """The customer's interviews by vehicle id (for the card: its panel and its timeline)."""

    def read() -> dict[int, DeliveryInterview]:
        interviews = compiled_read(("card interviews",), _interviews_of, customer_id=customer.pk)
        return {interview.vehicle_id: interview for interview in interviews}

    return once_per_card(customer, "delivery interviews", read)


def _interviews_of(*, customer_id: int) -> QuerySet[DeliveryInterview]:
    return DeliveryInterview.objects.filter(customer_id=customer_id).select_related("consultant")


def interview_consultants_for_user(user) -> QuerySet[User]:
    """Staff who may be named as an interview's consultant in the list's filter: the people of the
    user's stores."""
    queryset = User.objects.filter(is_active=True)
    store_ids = visible_store_ids(user)
    if store_ids is not None:
        queryset = queryset.filter(stores__in=store_ids)
    return queryset.distinct().order_by("last_name", "first_name", "username")


def delivery_interview_list(
    *,
    user,
    store: Store | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    consultant: User | None = None,
    search: str = "",
) -> QuerySet[DeliveryInterview]:
    """The managers' list: newest first, filtered by store, day interviewed (local days, both
    included), consultant and a search on the customer's name or number, the plate or the VIN."""
    queryset = delivery_interview_queryset_for_user(user).select_related("vehicle", "customer", "store", "consultant")
    if store is not None:
        queryset = queryset.filter(store=store)
    if date_from is not None:
        queryset = queryset.filter(interviewed_at__date__gte=date_from)
    if date_to is not None:
        queryset = queryset.filter(interviewed_at__date__lte=date_to)
    if consultant is not None:
        queryset = queryset.filter(consultant=consultant)
    search = search.strip()
    if search:
        queryset = queryset.filter(
            Q(customer__name__icontains=search)
            | Q(customer__customer_no__iexact=search)
            | Q(vehicle__plate_no__icontains=search)
            | Q(vehicle__vin__iendswith=search.upper())
        )
    return queryset.order_by("-interviewed_at", "-id")


@dataclass(frozen=True)
class FactorAverage:
    code: str
    label: str
    average: Decimal
    answers: int


@dataclass(frozen=True)
class InterviewSummary:
    total: int
    dissatisfied: int  # interviews with a factor ≤ 2
    factors: list[FactorAverage]

    @property
    def dissatisfied_share(self) -> Decimal | None:
        """Percent of the interviews with a factor ≤ 2, one decimal; None without interviews."""
        if not self.total:
            return None
        return (Decimal(100 * self.dissatisfied) / self.total).quantize(Decimal("0.1"), ROUND_HALF_UP)


def delivery_interview_summary(queryset: QuerySet[DeliveryInterview]) -> InterviewSummary:
    """The share of interviews with a factor ≤ 2 and the average of each factor over ``queryset``
    (two decimals). A factor is known by its code; its label is the one most recently asked."""
    counts = queryset.order_by().aggregate(
        total=Count("id"), dissatisfied=Count("id", filter=Q(lowest_score__lte=DISSATISFIED_FACTOR_SCORE))
    )
    sums: dict[str, list] = {}  # code -> [label, total, answers, earliest place in a questionnaire]
    for answers in queryset.order_by("-interviewed_at", "-id").values_list("answers", flat=True):
        for place, answer in enumerate(answers):
            entry = sums.setdefault(answer["code"], [answer["label"], 0, 0, place])
            entry[1] += answer["score"]
            entry[2] += 1
            entry[3] = min(entry[3], place)
    factors = [
        FactorAverage(
            code=code,
            label=label,
            average=(Decimal(total) / count).quantize(Decimal("0.01"), ROUND_HALF_UP),
            answers=count,
        )
        for code, (label, total, count, _place) in sorted(sums.items(), key=lambda item: (item[1][3], item[0]))
    ]
    return InterviewSummary(total=counts["total"], dissatisfied=counts["dissatisfied"], factors=factors)

"""Referrals (保客转介绍): recorded on the referrer's card or by staff, moved through the pipeline.

A referral is the attribution of a prospect (customers.Prospect, the pipeline of every source): who
referred it and the points. Recording a referral records its prospect; the stage and the consultant
set here are kept on the prospect by the customers services these functions call (the referral's own
columns stay, for the club's nightly run, its report and the points export)."""

import datetime

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from clubs.choices import ReferralStage
from clubs.models import (
    Referral,
)
from clubs.services.ledger import _today
from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.exceptions import ApplicationError
from crm.scoping import visible_store_ids
from customers.choices import ProspectSource
from customers.dms.parsing import FieldError, parse_mobile
from customers.selectors import customer_queryset_for_user, customers_with_mobile
from customers.services.prospects import (
    prospect_assign,
    prospect_consultant_check,
    prospect_create_for_referral,
    prospect_stage_from_referral,
)

# --- referrals (保客转介绍) ------------------------------------------------------------------------
#
# A referral is recorded on the referrer's card (or, for a staff referral, from the prospects'
# list) and worked by a sales consultant of the store (new → contacted → test drive → lost); it is
# won only by the nightly run (clubs.run._win_referrals), when the prospect's mobile takes delivery
# of a car within the store's window. What a dealership expects, and so what is refused:
# - a number that is already an owner's (a car delivered to it): an owner buying again is a repeat
#   purchase (增购/换购), not a referral; and a referral recorded after the car was delivered could
#   only be a claim on a sale already made;
# - a customer referring their own number; a date in the future;
# - the same referrer recording the same number twice while it is open: the first one is returned
#   (a double submit records one). Two referrers naming one number are both kept: the earliest wins.

REFERRAL_TEXT_LIMIT = 100
LOST_REASON_LIMIT = 200


def _one_line(value) -> str:
    return " ".join(str(value or "").split())


def _referral_mobile(value) -> str:
    try:
        mobile = parse_mobile(value)
    except FieldError:
        mobile = None
    if not mobile:
        raise ApplicationError(
            _("Enter the prospect's mobile: a mainland mobile number of 11 digits, such as 138 0013 8000.")
        )
    return mobile


def _referral_store_of_staff(*, user, referrer_staff, store):
    """The store of a staff referral: ``store`` if given, else the one store of the user's the
    referring member of staff works in."""
    visible = visible_store_ids(user)
    shared = referrer_staff.stores.filter(is_active=True)
    if visible is not None:
        shared = shared.filter(pk__in=visible)
    if store is not None:
        if not shared.filter(pk=store.pk).exists():
            raise ApplicationError(
                _("%(name)s does not work at %(store)s.")
                % {"name": referrer_staff.get_full_name() or referrer_staff.username, "store": store.name}
            )
        return store
    stores = list(shared.order_by("code")[:2])
    if not stores:
        raise ApplicationError(
            _("%(name)s does not work in any of your stores.")
            % {"name": referrer_staff.get_full_name() or referrer_staff.username}
        )
    if len(stores) > 1:
        raise ApplicationError(_("Choose the store the prospect is referred to."))
    return stores[0]


def _referral_save(
    *, user, store, referrer, referrer_staff, name, mobile, model, referred_on, consultant, audit: dict
) -> Referral:
    """Save a checked referral with its prospect (every referral is a prospect of the pipeline,
    docs/referrals.md; the nightly run wins both), its history and its audit row."""
    prospect = prospect_create_for_referral(
        user=user,
        store=store,
        name=name,
        mobile=mobile,
        intended_model=model,
        source=ProspectSource.OWNER_REFERRAL if referrer is not None else ProspectSource.STAFF_REFERRAL,
        consultant=consultant,
        recorded_on=referred_on,
    )
    referral = Referral(
        prospect=prospect,
        store=store,
        referrer=referrer,
        referrer_staff=referrer_staff,
        prospect_name=name,
        prospect_mobile=mobile,
        intended_model=model,
        referred_on=referred_on,
        consultant=consultant,
        recorded_by=user,
    )
    referral.full_clean()
    referral._history_user = user
    referral.save()
    audit_log_record(
        actor=user,
        action=AuditAction.CLUB_REFERRAL,
        object_type="clubs.referral",
        object_ids=[referral.pk],
        detail={
            "store": store.code,
            "referrer": referrer.pk if referrer else None,
            "referrer_staff": referrer_staff.pk if referrer_staff else None,
            "referred_on": referred_on.isoformat(),
            **audit,
        },
    )
    return referral


@transaction.atomic
def referral_record(
    *,
    user,
    referrer=None,
    referrer_staff=None,
    prospect_name,
    prospect_mobile,
    intended_model="",
    consultant=None,
    referred_on: datetime.date | None = None,
    store=None,
) -> Referral:
    """Record a referral: by a customer (``referrer``, one the user may see; the store is theirs)
    or by a member of staff (``referrer_staff``: no points; the store is ``store`` or the one of
    the user's stores they work in). The prospect's mobile is normalised (+86, spaces, full-width
    digits); ``consultant`` is a sales consultant of the store, or None for not assigned yet.
    Refused (ApplicationError) as the block above says; audited, with history."""
    if (referrer is None) == (referrer_staff is None):
        raise ApplicationError(_("Name either the customer or the member of staff who referred the prospect."))
    name = _one_line(prospect_name)
    if not name:
        raise ApplicationError(_("Enter the prospect's name."))
    if len(name) > REFERRAL_TEXT_LIMIT:
        raise ApplicationError(_("The prospect's name is at most 100 characters."))
    mobile = _referral_mobile(prospect_mobile)
    model = _one_line(intended_model)
    if len(model) > REFERRAL_TEXT_LIMIT:
        raise ApplicationError(_("The intended model is at most 100 characters."))
    today = _today()
    referred_on = referred_on or today
    if referred_on > today:
        raise ApplicationError(_("A referral cannot be dated in the future."))
    if referrer is not None:
        referrer = customer_queryset_for_user(user).select_related("store").filter(pk=referrer.pk).first()
        if referrer is None:
            raise ApplicationError(_("This customer is not one of your stores' customers."))
        store = referrer.store
        if referrer.mobile == mobile:
            raise ApplicationError(_("A customer cannot refer their own mobile number."))
    else:
        if not referrer_staff.is_active:
            raise ApplicationError(_("This member of staff no longer works here."))
        store = _referral_store_of_staff(user=user, referrer_staff=referrer_staff, store=store)
    prospect_consultant_check(consultant, store)
    if customers_with_mobile(mobile=mobile).filter(vehicles__delivery_date__lte=today).exists():
        raise ApplicationError(
            _(
                "This mobile number belongs to a customer who has already taken delivery of a car: a referral "
                "is for a new customer (an owner buying again is a repeat purchase, not a referral)."
            )
        )
    same = Referral.objects.select_for_update().filter(
        store=store, prospect_mobile=mobile, won_vehicle__isnull=True, referrer=referrer, referrer_staff=referrer_staff
    )
    if existing := same.exclude(stage=ReferralStage.LOST).order_by("referred_on", "id").first():
        return existing
    return _referral_save(
        user=user, store=store, referrer=referrer, referrer_staff=referrer_staff, name=name, mobile=mobile,
        model=model, referred_on=referred_on, consultant=consultant,
        audit={"consultant": consultant.pk if consultant else None},
    )  # fmt: skip


@transaction.atomic
def referral_stage_set(*, user, referral: Referral, stage: str, lost_reason: str = "") -> Referral:
    """Move an open referral along the sales pipeline (new, contacted, test drive, lost with a
    reason; a lost one may be opened again). Won is set only by the nightly matching, and a won
    referral no longer changes. Kept in the referral's history."""
    if stage == ReferralStage.WON:
        raise ApplicationError(
            _("A referral is won only when the prospect takes delivery of a car: the nightly run matches it.")
        )
    if stage not in ReferralStage.values:
        raise ApplicationError(_("Choose one of the stages."))
    reason = _one_line(lost_reason)
    if stage == ReferralStage.LOST and not reason:
        raise ApplicationError(_("Say why the prospect was lost."))
    if len(reason) > LOST_REASON_LIMIT:
        raise ApplicationError(_("The reason is at most 200 characters."))
    if stage != ReferralStage.LOST:
        reason = ""
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    if referral.stage == ReferralStage.WON:
        raise ApplicationError(
            _("This referral is won (the car was delivered on %(date)s): its stage no longer changes.")
            % {"date": referral.won_on.isoformat() if referral.won_on else "—"}
        )
    if (referral.stage, referral.lost_reason) == (stage, reason):
        return referral
    referral.stage = stage
    referral.lost_reason = reason
    referral._history_user = user
    referral.save(update_fields=["stage", "lost_reason", "updated_at"])
    if referral.prospect_id:
        prospect_stage_from_referral(user=user, prospect=referral.prospect, stage=stage, lost_reason=reason)
    return referral


@transaction.atomic
def referral_assign(*, user, referral: Referral, consultant) -> Referral:
    """Give a prospect to a sales consultant of the referral's store (None: not assigned). A won
    referral keeps the consultant who sold the car. Kept in the referral's history."""
    referral = Referral.objects.select_for_update().select_related("store").get(pk=referral.pk)
    if referral.stage == ReferralStage.WON:
        raise ApplicationError(_("This referral is won: its sales consultant no longer changes."))
    prospect_consultant_check(consultant, referral.store)
    if referral.consultant_id == (consultant.pk if consultant else None):
        return referral
    referral.consultant = consultant
    referral._history_user = user
    referral.save(update_fields=["consultant", "updated_at"])
    if referral.prospect_id and referral.prospect.status != "won":
        prospect_assign(user=user, prospect=referral.prospect, consultant=consultant)
    return referral


@transaction.atomic
def referral_record_at_delivery(*, user, buyer, vehicle, referrer=None, referrer_staff=None, delivered_on,
                                consultant=None) -> Referral | None:  # fmt: skip
    """The referral a buyer names at the sales desk's delivery (docs/desk.md): the buyer is the
    prospect, referred on the delivery day, so that the nightly run (clubs.run._win_referrals) wins
    it with this car and credits the referrer's points. Unlike ``referral_record`` the buyer already
    owns the car: that is the point. A referral already open for the buyer's mobile and this referrer
    is returned (a listener run twice records one); a buyer without a mobile gets none (the win is by
    mobile). Audited, with history."""
    if (referrer is None) == (referrer_staff is None) or not buyer.mobile:
        return None
    same = Referral.objects.select_for_update().filter(
        store_id=buyer.store_id, prospect_mobile=buyer.mobile, referrer=referrer, referrer_staff=referrer_staff
    )
    if (
        existing := same.exclude(stage=ReferralStage.LOST)
        .filter(Q(won_vehicle__isnull=True) | Q(won_vehicle=vehicle))
        .order_by("referred_on", "id")
        .first()
    ):
        return existing
    name = _one_line(buyer.name)[:REFERRAL_TEXT_LIMIT]
    model = _one_line(" ".join(part for part in (vehicle.brand, vehicle.series, vehicle.model) if part))[
        :REFERRAL_TEXT_LIMIT
    ]
    return _referral_save(
        user=user, store=buyer.store, referrer=referrer, referrer_staff=referrer_staff, name=name,
        mobile=buyer.mobile, model=model, referred_on=delivered_on, consultant=consultant,
        audit={"at_delivery": vehicle.pk},
    )  # fmt: skip

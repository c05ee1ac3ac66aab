"""The club's pages: the members list, a member's page with the desk (redemption, stored value,
managers' adjustments), and the club's settings per store. Each write parses a form, checks the
permission, calls one service and shows its refusal (crm.exceptions.ApplicationError) in words."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clubs import selectors, services
from clubs.choices import Tier
from clubs.forms import (
    AdjustForm,
    ClubStartForm,
    LifetimeFeeForm,
    MemberFilterForm,
    RedeemForm,
    SpendForm,
    StoreClubForm,
    TierForm,
    TierRuleForm,
    TopUpForm,
)
from clubs.models import StoreClub, TierRule
from crm.api.pagination import CappedCountPaginator
from crm.exceptions import ApplicationError
from crm.row_urls import pk_url
from crm.scoping import stores_for_user

PAGE_SIZE = 25
LEDGER_PAGE_SIZE = 20

# --- members list ----------------------------------------------------------------------------


@login_required
@permission_required("clubs.view_membership", raise_exception=True)
@require_GET
def member_list(request: HttpRequest) -> HttpResponse:
    stores = selectors.club_stores_for_user(request.user)
    form = MemberFilterForm(request.GET, stores=stores)
    members = selectors.member_list_page_for_user(user=request.user, **form.filters())
    # A store has tens of thousands of members, a group a million: counted exactly up to a cap,
    # estimated past it (a full count of every member took longer than the rest of the page); the
    # count and the estimate read the members without the rows' subqueries (MemberListPage).
    counted = CappedCountPaginator(members.to_count, PAGE_SIZE)
    paginator = CappedCountPaginator(members.rows, PAGE_SIZE)
    paginator.count, paginator.count_is_estimate = counted.count, counted.count_is_estimate
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = _list_rows(page.object_list)
    context = {
        "form": form,
        "page": page,
        "stores_not_started": [store for store in stores if store.started_club is None],
        "any_started": any(store.started_club is not None for store in stores),
        "can_start": request.user.has_perm("clubs.start_club"),
    }
    return render(request, "clubs/member_list.html", context)


def _list_rows(members) -> list:
    """The page's members with their link and tier in words, worked out once for the page (a
    reverse and a ``get_tier_display`` a row, which rebuilt the tiers' choices each time)."""
    members = list(members)
    member_url, tiers = pk_url("clubs:member"), dict(Tier.choices)
    for member in members:
        member.url = member_url(member.pk)
        member.tier_label = str(tiers.get(member.tier, member.tier))
    return members


# --- a member's page and the desk ---------------------------------------------------------------


def _member_context(request: HttpRequest, member, **forms) -> dict:
    user = request.user
    ledger = Paginator(selectors.member_ledger(membership=member), LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "member": member,
        "customer": member.customer,
        "standing": selectors.member_standing(membership=member),
        "dms_difference": selectors.member_dms_difference(membership=member),
        "page": ledger,
        "tier_history": selectors.member_tier_history(membership=member),
        "wallet_entries": selectors.member_wallet_entries(membership=member),
        "can_redeem": user.has_perm("clubs.redeem_points"),
        "can_wallet": user.has_perm("clubs.top_up_wallet"),
        "can_adjust": user.has_perm("clubs.adjust_points"),
        "can_lifetime": user.has_perm("clubs.record_lifetime_fee") and member.tier < Tier.LIFETIME,
        "redeem_form": forms.get("redeem_form") or RedeemForm(),
        "topup_form": forms.get("topup_form") or TopUpForm(),
        "spend_form": forms.get("spend_form") or SpendForm(),
        "adjust_form": forms.get("adjust_form") or AdjustForm(),
        "tier_form": forms.get("tier_form") or TierForm(initial={"tier": member.tier}),
        "lifetime_form": forms.get("lifetime_form") or LifetimeFeeForm(),
    }


@login_required
@permission_required("clubs.view_membership", raise_exception=True)
@require_GET
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_get_for_user(user=request.user, pk=pk)
    return render(request, "clubs/member_detail.html", _member_context(request, member))


def _desk_post(request: HttpRequest, pk: int, *, permission: str, form_class, form_name: str, call, success):
    """Parse ``form_class``, call the one service (``call(member, form)``) and redirect with
    ``success(result)``; a bad form or a refusal re-renders the member's page with the reason (400)."""
    if not request.user.has_perm("clubs.view_membership"):
        raise PermissionDenied
    member = selectors.member_get_for_user(user=request.user, pk=pk)
    if not request.user.has_perm(permission):
        raise PermissionDenied
    form = form_class(request.POST)
    if form.is_valid():
        try:
            result = call(member, form)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, success(result))
            return redirect(reverse("clubs:member", args=[member.pk]))
    member.refresh_from_db()
    context = _member_context(request, member, **{form_name: form})
    return render(request, "clubs/member_detail.html", context, status=400)


@login_required
@require_POST
def member_redeem(request: HttpRequest, pk: int) -> HttpResponse:
    return _desk_post(
        request,
        pk,
        permission="clubs.redeem_points",
        form_class=RedeemForm,
        form_name="redeem_form",
        call=lambda member, form: services.points_redeem(
            membership=member,
            points=form.cleaned_data["points"],
            reference=form.service_reference(),
            note=form.cleaned_data["note"],
            user=request.user,
        ),
        success=lambda entry: (
            _("%(points)s points redeemed (reference %(reference)s).")
            % {"points": -entry.points, "reference": entry.reference}
        ),
    )


@login_required
@require_POST
def member_top_up(request: HttpRequest, pk: int) -> HttpResponse:
    return _desk_post(
        request,
        pk,
        permission="clubs.top_up_wallet",
        form_class=TopUpForm,
        form_name="topup_form",
        call=lambda member, form: services.wallet_top_up(
            membership=member,
            amount=form.cleaned_data["amount"],
            reference=form.cleaned_data["reference"],
            user=request.user,
        ),
        success=lambda entry: (
            _("¥%(amount)s topped up; the stored value is ¥%(balance)s.")
            % {"amount": entry.amount, "balance": entry.balance_after}
        ),
    )


@login_required
@require_POST
def member_spend(request: HttpRequest, pk: int) -> HttpResponse:
    return _desk_post(
        request,
        pk,
        permission="clubs.top_up_wallet",
        form_class=SpendForm,
        form_name="spend_form",
        call=lambda member, form: services.wallet_spend(
            membership=member,
            amount=form.cleaned_data["amount"],
            reference=form.cleaned_data["reference"],
            user=request.user,
        ),
        success=lambda entry: (
            _("¥%(amount)s paid from the stored value; ¥%(balance)s left.")
            % {"amount": entry.amount, "balance": entry.balance_after}
        ),
    )


@login_required
@require_POST
def member_adjust(request: HttpRequest, pk: int) -> HttpResponse:
    return _desk_post(
        request,
        pk,
        permission="clubs.adjust_points",
        form_class=AdjustForm,
        form_name="adjust_form",
        call=lambda member, form: services.points_adjust(
            membership=member,
            points=form.cleaned_data["points"],
            reason=form.cleaned_data["reason"],
            reference=f"A{form.cleaned_data['token']}",
            user=request.user,
        ),
        success=lambda entry: _("%(points)s points recorded.") % {"points": f"{entry.points:+d}"},
    )


@login_required
@require_POST
def member_tier_set(request: HttpRequest, pk: int) -> HttpResponse:
    return _desk_post(
        request,
        pk,
        permission="clubs.adjust_points",
        form_class=TierForm,
        form_name="tier_form",
        call=lambda member, form: services.tier_set(
            membership=member, tier=form.cleaned_data["tier"], reason=form.cleaned_data["reason"], user=request.user
        ),
        success=lambda member: _("The tier is now %(tier)s.") % {"tier": Tier(member.tier).label},
    )


@login_required
@require_POST
def member_lifetime_fee(request: HttpRequest, pk: int) -> HttpResponse:
    return _desk_post(
        request,
        pk,
        permission="clubs.record_lifetime_fee",
        form_class=LifetimeFeeForm,
        form_name="lifetime_form",
        call=lambda member, form: services.lifetime_fee_record(
            membership=member,
            reference=form.cleaned_data["reference"],
            note=form.cleaned_data["note"],
            user=request.user,
        ),
        success=lambda member: (
            _("The lifetime fee is recorded; the member is %(tier)s.") % {"tier": Tier(member.tier).label}
        ),
    )


# --- the club's settings per store --------------------------------------------------------------


@login_required
@permission_required("clubs.view_storeclub", raise_exception=True)
@require_GET
def club_settings(request: HttpRequest) -> HttpResponse:
    stores = selectors.club_stores_for_user(request.user)
    if len(stores) == 1:
        return redirect("clubs:store_settings", store_pk=stores[0].pk)
    return render(request, "clubs/settings_list.html", {"stores": stores})


def _store_or_404(request: HttpRequest, store_pk: int):
    store = stores_for_user(request.user).filter(pk=store_pk).first()
    if store is None:
        raise Http404
    return store


def _settings_context(request: HttpRequest, store, **forms) -> dict:
    club = StoreClub.objects.filter(store=store).first()
    rules = selectors.tier_rules_for_store(store=store) if club else []
    bound_tier_form = forms.get("tier_form")
    tier_forms = [
        (
            rule,
            bound_tier_form
            if bound_tier_form is not None and bound_tier_form.prefix == f"tier{rule.tier}"
            else TierRuleForm(instance=rule, prefix=f"tier{rule.tier}"),
        )
        for rule in rules
    ]
    return {
        "store": store,
        "club": club,
        "start_form": forms.get("start_form") or ClubStartForm(),
        "rules_form": forms.get("rules_form") or (StoreClubForm(instance=club) if club else None),
        "tier_forms": tier_forms,
        "tier_form": bound_tier_form,
        "history": selectors.club_settings_history(store=store) if club else [],
        "can_start": request.user.has_perm("clubs.start_club"),
        "can_change_rules": request.user.has_perm("clubs.change_storeclub"),
        "can_change_tiers": request.user.has_perm("clubs.change_tierrule"),
    }


@login_required
@permission_required("clubs.view_storeclub", raise_exception=True)
@require_GET
def club_settings_store(request: HttpRequest, store_pk: int) -> HttpResponse:
    store = _store_or_404(request, store_pk)
    return render(request, "clubs/settings.html", _settings_context(request, store))


def _settings_post(request, store, *, form, form_name, call, success):
    if form.is_valid():
        try:
            result = call(form)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, success(result))
            return redirect("clubs:store_settings", store_pk=store.pk)
    context = _settings_context(request, store, **{form_name: form})
    return render(request, "clubs/settings.html", context, status=400)


@login_required
@permission_required("clubs.start_club", raise_exception=True)
@require_POST
def club_start(request: HttpRequest, store_pk: int) -> HttpResponse:
    store = _store_or_404(request, store_pk)
    return _settings_post(
        request,
        store,
        form=ClubStartForm(request.POST),
        form_name="start_form",
        call=lambda form: services.store_club_start(
            store=store, started_on=form.cleaned_data["started_on"], user=request.user
        ),
        success=lambda result: (
            _("The club of %(store)s started on %(day)s: %(members)s members joined.")
            % {"store": store.name, "day": result.started_on.isoformat(), "members": result.members}
        ),
    )


@login_required
@permission_required("clubs.change_storeclub", raise_exception=True)
@require_POST
def club_rules_update(request: HttpRequest, store_pk: int) -> HttpResponse:
    store = _store_or_404(request, store_pk)
    club = StoreClub.objects.filter(store=store).first()
    if club is None:
        raise Http404
    return _settings_post(
        request,
        store,
        form=StoreClubForm(request.POST, instance=StoreClub.objects.get(pk=club.pk)),
        form_name="rules_form",
        call=lambda form: services.store_club_update(
            store_club=club, user=request.user, **{name: form.cleaned_data[name] for name in StoreClubForm.Meta.fields}
        ),
        success=lambda changed: _("The club's rules are saved.") if changed else _("Nothing was changed."),
    )


@login_required
@permission_required("clubs.change_tierrule", raise_exception=True)
@require_POST
def tier_rule_update(request: HttpRequest, store_pk: int, tier: int) -> HttpResponse:
    store = _store_or_404(request, store_pk)
    rule = TierRule.objects.filter(store=store, tier=tier).first()
    if rule is None:
        raise Http404
    return _settings_post(
        request,
        store,
        form=TierRuleForm(request.POST, instance=TierRule.objects.get(pk=rule.pk), prefix=f"tier{rule.tier}"),
        form_name="tier_form",
        call=lambda form: services.tier_rule_update(
            tier_rule=rule, user=request.user, **{name: form.cleaned_data[name] for name in TierRuleForm.Meta.fields}
        ),
        success=lambda changed: (
            _("The rule of %(tier)s is saved.") % {"tier": Tier(rule.tier).label}
            if changed
            else _("Nothing was changed.")
        ),
    )

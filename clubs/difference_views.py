"""The DMS-differences report: the members whose card's DMS tier or points disagree with the club.

After S the club is the record (docs/club.md): a later DMS export changes nothing but this list,
which managers read to put the DMS right (or to find a member's tier set wrongly)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from clubs.choices import Tier
from clubs.selectors import dms_differences_for_user
from customers.forms import SearchForm

PAGE_SIZE = 25


def _member_url(pk: int) -> str:
    try:
        return reverse("clubs:member", args=[pk])
    except NoReverseMatch:
        return ""


@login_required
@permission_required("clubs.adjust_points", raise_exception=True)
@require_GET
def dms_differences(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    search = form.search()
    status = 200
    if form.errors:
        messages.error(request, " ".join(form.errors["q"]))
        status = 400
    page = Paginator(dms_differences_for_user(request.user, search=search), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"member": member, "crm_tier": Tier(member.tier).label, "url": _member_url(member.pk)} for member in page]
    return render(request, "clubs/differences.html", {"page": page, "rows": rows, "search": search}, status=status)

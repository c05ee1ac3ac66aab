"""The members list's filters: tier, store, points balance range, points expiring soon."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from clubs.choices import Tier
from clubs.models import Membership
from crm.api.filters import CrmFilterSet

# A points balance is a PostgreSQL integer.
MAX_BALANCE = 2**31 - 1


class BalanceField(forms.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=MAX_BALANCE, **kwargs)


class BalanceFilter(filters.NumberFilter):
    """A whole number of points (a fraction or a number past an integer's range is a 400)."""

    field_class = BalanceField


class MemberFilter(CrmFilterSet):
    tier = filters.TypedChoiceFilter(choices=Tier.choices, coerce=int, label=_("tier"))
    balance_min = BalanceFilter(field_name="points_balance", lookup_expr="gte", label=_("points balance from"))
    balance_max = BalanceFilter(field_name="points_balance", lookup_expr="lte", label=_("points balance up to"))
    expiring_soon = filters.BooleanFilter(method="filter_expiring_soon", label=_("points expiring in 30 days"))

    class Meta:
        model = Membership
        fields = ["store", "tier"]

    def filter_expiring_soon(self, queryset, name, value):
        # points_expiring is annotated by clubs.selectors.membership_list_for_user.
        return queryset.filter(points_expiring__gt=0) if value else queryset.filter(points_expiring=0)

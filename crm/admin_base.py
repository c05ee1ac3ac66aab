"""The admin's share of the rules every other screen applies: store scope, the phone mask (with an
audit row for every reveal), and history that can be read but never reverted past a service.

Every ModelAdmin of the project derives from ``StoreScopedModelAdmin`` (or
``ScopedSimpleHistoryAdmin`` for models with django-simple-history), so that:

- lists, change, delete and history pages show only what ``scoped_queryset`` lets through (another
  store's object is a 404 — the admin's "does not exist" — never a 403 that confirms it exists);
- a foreign key or many-to-many chosen in a form (select, raw ID or autocomplete) must be one the user
  may see: a store of the user's, a member of staff of the user's stores, or an object the related
  model's own admin shows the user;
- list filters on relations list only the values found in the user's own rows;
- the fields named in ``phone_fields`` are masked in lists, left out of forms for staff without the
  unmask permission, searchable only by staff who hold it, and every page that shows them whole
  writes an audit row;
- history (django-simple-history) is scoped like the object and is read-only: a revert would bypass
  the app's services and validation, so the admin never offers one (edit the object instead).
"""

from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import ForeignKey, ManyToManyField, QuerySet
from django.forms import ModelChoiceField
from django.http import Http404
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.masking import can_see_full_phone, mask_phone
from crm.models import Store, User
from crm.scoping import scope_to_user_stores, sees_all_stores, stores_for_user, visible_store_ids


def staff_queryset_for_user(user) -> QuerySet[User]:
    """Staff a user may pick in a form: everyone for group-wide staff, else the staff of the user's stores."""
    store_ids = visible_store_ids(user)
    if store_ids is None:
        return User.objects.all()
    return User.objects.filter(pk__in=User.objects.filter(stores__in=store_ids).values("pk"))


def staff_within_user_stores(user) -> QuerySet[User]:
    """Staff whose every store is one of the user's (and who have at least one), never a superuser
    nor group-wide staff unless the user is one: the people whose work concerns only the user's
    stores, and whom the user may manage without reaching into another store."""
    if user.is_superuser:
        return User.objects.all()
    queryset = User.objects.filter(is_superuser=False)
    store_ids = visible_store_ids(user)
    if store_ids is None:
        return queryset
    in_my_stores = User.objects.filter(stores__in=store_ids).values("pk")
    in_other_stores = User.objects.filter(stores__in=Store.objects.exclude(pk__in=store_ids)).values("pk")
    return queryset.filter(sees_all_stores=False, pk__in=in_my_stores).exclude(pk__in=in_other_stores)


def _keep_current_choices(form, obj) -> None:
    """Let a form keep the related objects the object already has, even outside the user's choices
    (a top-secret card naming group-wide staff): saving it must not fail or drop them."""
    for name, form_field in form.base_fields.items():
        if not isinstance(form_field, ModelChoiceField):
            continue
        try:
            model_field = obj._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if isinstance(model_field, ManyToManyField):
            current = getattr(obj, name).values("pk")
        elif isinstance(model_field, ForeignKey) and getattr(obj, model_field.attname) is not None:
            current = [getattr(obj, model_field.attname)]
        else:
            continue
        queryset = form_field.queryset
        form_field.queryset = queryset | queryset.model._default_manager.filter(pk__in=current)


class UserStoresListFilter(admin.RelatedFieldListFilter):
    """A filter on a store that lists the user's stores, not every store of the group."""

    def field_choices(self, field, request, model_admin):
        stores = scope_to_user_stores(Store.objects.order_by("code"), request.user, store_field="id")
        return [(store.pk, str(store)) for store in stores]


def scoped_list_filter(model, list_filter) -> list:
    """``list_filter`` with every plain relation filter limited to what the user sees: a store filter
    lists the user's stores; another relation lists only the values found in the user's rows (a plain
    relation filter would list every row of the related table: every store, every member of staff)."""
    filters = []
    for entry in list_filter:
        if isinstance(entry, str) and "__" not in entry:
            field = model._meta.get_field(entry)
            if isinstance(field, ForeignKey | ManyToManyField):
                entry = (entry, UserStoresListFilter if field.related_model is Store else RelatedOnlyFieldListFilter)
        filters.append(entry)
    return filters


class NotFoundOutsideScopeMixin:
    """An object the user may not see is a 404, as on every other page — not the admin's redirect
    with "doesn't exist", which reads differently from a typo."""

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404


class StoreScopedModelAdmin(NotFoundOutsideScopeMixin, admin.ModelAdmin):
    """A ModelAdmin whose every page is limited to the user's stores (see the module docstring).

    ``store_field`` is the lookup from the model to its store (``None``: override
    ``scoped_queryset``); ``phone_fields`` are the model's phone-number fields.
    """

    store_field: str | None = "store"
    phone_fields: tuple[str, ...] = ()

    # --- scope ---------------------------------------------------------------------------------
    def scoped_queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.store_field is None:
            raise NotImplementedError(f"{type(self).__name__} sets store_field=None: override scoped_queryset")
        return scope_to_user_stores(queryset, request.user, store_field=self.store_field)

    def get_queryset(self, request):
        return self.scoped_queryset(request, super().get_queryset(request))

    def related_choices(self, request, db_field) -> QuerySet | None:
        """The objects a user may choose for a relation, or None for any (a model with no store)."""
        related = db_field.related_model
        if related is Store:
            return stores_for_user(request.user)
        if related is User:
            return staff_queryset_for_user(request.user)
        related_admin = self.admin_site._registry.get(related)
        if isinstance(related_admin, StoreScopedModelAdmin):
            return related_admin.get_queryset(request)
        return None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        choices = self.related_choices(request, db_field)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        choices = self.related_choices(request, db_field)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and obj.pk is not None:
            _keep_current_choices(form, obj)
        return form

    def get_list_filter(self, request):
        return scoped_list_filter(self.model, super().get_list_filter(request))

    # --- phones --------------------------------------------------------------------------------
    def get_list_display(self, request):
        # Lists never show a whole number: the change page does, with an audit row.
        return [self._masked_column(name) if name in self.phone_fields else name
                for name in super().get_list_display(request)]  # fmt: skip

    def _masked_column(self, field_name: str):
        field = self.model._meta.get_field(field_name)

        @admin.display(description=capfirst(field.verbose_name), ordering=field_name)
        def column(obj):
            return mask_phone(getattr(obj, field_name))

        column.__name__ = f"masked_{field_name}"
        return column

    def _is_phone_search_field(self, name: str) -> bool:
        return name.lstrip("^=@").split("__")[-1] in self.phone_fields

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)
        if can_see_full_phone(request.user):
            return fields
        # Searching parts of a number rebuilds it: only for staff who may see it whole.
        return [name for name in fields if not self._is_phone_search_field(name)]

    def get_search_results(self, request, queryset, search_term):
        results = super().get_search_results(request, queryset, search_term)
        searches_phones = any(self._is_phone_search_field(name) for name in self.get_search_fields(request))
        if search_term and searches_phones:
            # A search by digits is a reveal of whose number holds them: audited like one.
            self.audit_phone_reveal(request, object_ids=[], detail={"search": search_term[:50]})
        return results

    def get_exclude(self, request, obj=None):
        exclude = tuple(super().get_exclude(request, obj) or ())
        if self.phone_fields and not can_see_full_phone(request.user):
            return (*exclude, *self.phone_fields)
        return exclude or None

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if self.phone_fields and not can_see_full_phone(request.user):
            readonly = tuple(name for name in readonly if name not in self.phone_fields)
            return (*readonly, "masked_phones")
        return readonly

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.phone_fields and not can_see_full_phone(request.user):
            return [name for name in fields if name not in self.phone_fields]
        return fields

    @admin.display(description=_("phone numbers"))
    def masked_phones(self, obj):
        return " / ".join(mask_phone(getattr(obj, name)) for name in self.phone_fields if getattr(obj, name))

    def audit_phone_reveal(self, request, *, object_ids, detail: dict | None = None) -> None:
        audit_log_record(
            actor=request.user,
            action=AuditAction.VIEW_UNMASKED_PHONE,
            object_type=self.model._meta.label_lower,
            object_ids=object_ids,
            detail={"path": request.path, "via": "admin", **(detail or {})},
        )

    def _audit_if_revealed(self, request, response, object_id) -> None:
        if (
            self.phone_fields
            and request.method == "GET"
            and response.status_code == 200
            and can_see_full_phone(request.user)
        ):
            self.audit_phone_reveal(request, object_ids=[unquote(object_id)])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        self._audit_if_revealed(request, response, object_id)
        return response


class StoreFixedOnChangeMixin:
    """A store's own settings stay that store's: the store is chosen when they are added, never moved."""

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return (*readonly, "store") if obj is not None else readonly


class ReadOnlyModelAdmin(StoreScopedModelAdmin):
    """Logs and records written by the app's services: shown, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class _MaskedHistoryContextHelper(HistoricalRecordContextHelper):
    def __init__(self, model, historical_record, *, phone_fields, **kwargs):
        super().__init__(model, historical_record, **kwargs)
        self.phone_fields = phone_fields

    def prepare_delta_change_value(self, change, value):
        if change.field in self.phone_fields:
            return mask_phone(value)
        return super().prepare_delta_change_value(change, value)


class ScopedSimpleHistoryAdmin(StoreScopedModelAdmin, SimpleHistoryAdmin):
    """History pages scoped like the object, phones masked unless the user may unmask (audited),
    and no revert: a revert would write past the app's service and the form's validation.

    ``history_store_field`` is the store field of the historical rows (None: not filtered by store;
    the object itself is still scoped): a version from when the object belonged to another store is
    that store's, not the user's.
    """

    history_store_field: str | None = "store"

    def _get_scoped_object_or_404(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        return obj

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        queryset = super().get_history_queryset(request, history_manager, pk_name, object_id)
        if self.history_store_field is None:
            return queryset
        return scope_to_user_stores(queryset, request.user, store_field=self.history_store_field)

    def get_historical_record_context_helper(self, request, historical_record):
        if self.phone_fields and not can_see_full_phone(request.user):
            return _MaskedHistoryContextHelper(self.model, historical_record, phone_fields=self.phone_fields)
        return super().get_historical_record_context_helper(request, historical_record)

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def history_view(self, request, object_id, extra_context=None):
        self._get_scoped_object_or_404(request, object_id)
        response = super().history_view(request, object_id, extra_context)
        self._audit_if_revealed(request, response, object_id)
        return response

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._get_scoped_object_or_404(request, object_id)
        history_manager = getattr(self.model, self.model._meta.simple_history_manager_attribute)
        pk_name = self.model._meta.pk.attname
        versions = self.get_history_queryset(request, history_manager, pk_name, unquote(object_id))
        try:
            version_exists = versions.filter(history_id=int(unquote(version_id))).exists()
        except (TypeError, ValueError):
            version_exists = False
        if not version_exists:
            raise Http404
        if request.method != "GET":
            raise PermissionDenied
        response = super().history_form_view(request, object_id, version_id, extra_context)
        self._audit_if_revealed(request, response, object_id)
        return response


class GroupWideModelAdmin(admin.ModelAdmin):
    """Settings of the whole dealer group (no store): readable with the view permission, but added,
    changed or deleted only by staff who see every store — one store's staff cannot change them for all."""

    def _may_write(self, request) -> bool:
        return sees_all_stores(request.user)

    def has_add_permission(self, request, obj=None) -> bool:
        return self._may_write(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may_write(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may_write(request) and super().has_delete_permission(request, obj)

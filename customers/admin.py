from django import forms
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportMixin
from import_export.formats import base_formats
from import_export.forms import ConfirmImportForm, ImportForm

from crm.admin_base import GroupWideModelAdmin, ReadOnlyModelAdmin, ScopedSimpleHistoryAdmin, StoreScopedModelAdmin
from crm.scoping import sees_all_stores, stores_for_user
from customers.dms.reference import REFERENCE_HEADERS, REQUIRED_FIELDS
from customers.dms.sources import read_error_message
from customers.models import (
    Customer,
    CustomerNote,
    HeaderMappingProfile,
    ImportBatch,
    ImportIssue,
    RepairOrder,
    Segment,
    Vehicle,
)
from customers.resources import (
    CustomerDmsResource,
    DmsCsvFormat,
    DmsXlsxFormat,
    RepairOrderDmsResource,
    VehicleDmsResource,
)
from customers.selectors import (
    customer_note_queryset_for_user,
    customer_queryset_for_user,
    import_batch_queryset_for_user,
    repair_order_queryset_for_user,
    segment_queryset_for_user,
    vehicle_queryset_for_user,
)
from customers.services import customer_save, customers_delete, segment_save, vehicle_save


def _store_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        label=_("Store of rows without a store code"),
        queryset=None,
        required=False,
        empty_label=_("None: only the store codes in the file"),
        help_text=_("Rows whose 所属门店 is blank take this store, as the store option of the import command does."),
    )


class DmsImportForm(ImportForm):
    """The upload form, with the store for rows that name none (one of the importing user's)."""

    store = _store_field()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores_for_user(user).order_by("code")


class DmsConfirmImportForm(ConfirmImportForm):
    """The confirmation carries the store chosen at upload, checked again against the user's stores."""

    store = _store_field()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores_for_user(user).order_by("code")
        self.fields["store"].widget = forms.HiddenInput()


class DmsImportAdminMixin(ImportMixin):
    """Upload a DMS file → preview (created / updated / unchanged / rejected with reasons, and what
    changes on the updated rows) → confirm."""

    formats = [DmsCsvFormat, DmsXlsxFormat]
    import_template_name = "admin/customers/dms_import.html"
    import_form_class = DmsImportForm
    confirm_form_class = DmsConfirmImportForm

    def has_import_permission(self, request):
        return request.user.has_perm("customers.import_dms")

    def get_import_form_kwargs(self, request):
        return {**super().get_import_form_kwargs(request), "user": request.user}

    def get_confirm_form_kwargs(self, request, import_form=None):
        return {**super().get_confirm_form_kwargs(request, import_form), "user": request.user}

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None and import_form.cleaned_data.get("store"):
            initial["store"] = import_form.cleaned_data["store"].pk
        return initial

    def get_import_data_kwargs(self, **kwargs):
        form = kwargs.pop("form", None)
        kwargs.pop("request", None)
        if form is not None and getattr(form, "cleaned_data", None):
            kwargs["store"] = form.cleaned_data.get("store")
        return kwargs

    def get_import_context_data(self, **kwargs):
        """The upload form names the columns each report cannot do without (the resource lists them
        all, see DmsImportResource.get_user_visible_fields)."""
        context = super().get_import_context_data(**kwargs)
        context["dms_reports"] = [
            {
                "label": resource_class.get_display_name(),
                "required": [
                    header
                    for header, field in REFERENCE_HEADERS[resource_class.kind].items()
                    if field in REQUIRED_FIELDS[resource_class.kind]
                ],
            }
            for resource_class in self.get_import_resource_classes(None)
        ]
        return context

    def add_data_read_fail_error_to_form(self, form, e):
        # The reader's own words (a damaged workbook, not text, a cell too long, empty), never the
        # name of an exception class.
        formats = self.get_import_formats()
        chosen = formats[int(form.cleaned_data.get("format") or 0)]
        form.add_error("import_file", read_error_message(e, xlsx=issubclass(chosen, base_formats.XLSX)))

    def process_result(self, result, request):
        batch = getattr(result, "dms_batch", None)
        if batch is None:
            return super().process_result(result, request)
        return HttpResponseRedirect(reverse("admin:customers_importbatch_change", args=[batch.pk]))


@admin.register(Customer)
class CustomerAdmin(DmsImportAdminMixin, ScopedSimpleHistoryAdmin):
    phone_fields = ("mobile", "landline")
    resource_classes = [CustomerDmsResource]
    list_display = ["customer_no", "name", "store", "member_tier", "is_key_customer", "confidentiality"]
    list_filter = ["store", "confidentiality", "is_key_customer", "member_tier"]
    search_fields = ["customer_no", "name"]
    list_select_related = ["store"]
    raw_id_fields = ["do_not_call_by", "sms_opt_out_by"]
    filter_horizontal = ["authorized_staff"]
    show_full_result_count = False

    def scoped_queryset(self, request, queryset):
        # The store scope and the top-secret rule of every other screen: a 绝密 card only for named staff.
        return queryset & customer_queryset_for_user(request.user)

    def save_model(self, request, obj, form, change):
        customer_save(customer=obj, user=request.user)

    def delete_model(self, request, obj):
        customers_delete(queryset=Customer.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        customers_delete(queryset=queryset)


@admin.register(Vehicle)
class VehicleAdmin(DmsImportAdminMixin, ScopedSimpleHistoryAdmin):
    resource_classes = [VehicleDmsResource]
    list_display = ["vin", "plate_no", "customer", "brand", "series", "delivery_date", "status"]
    list_filter = ["store", "brand", "status"]
    search_fields = ["vin", "plate_no"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer", "status_changed_by"]
    show_full_result_count = False

    def scoped_queryset(self, request, queryset):
        return queryset & vehicle_queryset_for_user(request.user)

    def save_model(self, request, obj, form, change):
        vehicle_save(vehicle=obj, user=request.user, previous_owner_id=form.initial.get("customer"))


@admin.register(RepairOrder)
class RepairOrderAdmin(DmsImportAdminMixin, StoreScopedModelAdmin):
    resource_classes = [RepairOrderDmsResource]
    list_display = ["ro_no", "vehicle", "settle_date", "repair_type", "total_amount"]
    list_filter = ["store", "repair_type"]
    search_fields = ["ro_no", "vehicle__vin"]
    list_select_related = ["vehicle"]
    raw_id_fields = ["vehicle"]
    date_hierarchy = "settle_date"
    show_full_result_count = False

    def scoped_queryset(self, request, queryset):
        return queryset & repair_order_queryset_for_user(request.user)


class ImportIssueInline(admin.TabularInline):
    model = ImportIssue
    fields = ["row_number", "severity", "column", "value", "reason_display"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    @admin.display(description=_("reason"))
    def reason_display(self, issue):
        return issue.reason_display

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("row_number", "id")


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "kind", "file_name", "status", "is_dry_run", "created_count", "updated_count",
                    "unchanged_count", "rejected_count", "warning_count", "user", "created_at"]  # fmt: skip
    list_filter = ["kind", "status", "is_dry_run"]
    search_fields = ["file_name"]
    list_select_related = ["user"]
    change_form_template = "admin/customers/importbatch/change_form.html"
    inlines = [ImportIssueInline]
    # The stored files are links named in words (the uploaded file's own name, "rejected rows"),
    # never their storage path; the links are served by the scoped media view.
    readonly_fields = [
        *(field.name for field in ImportBatch._meta.fields if field.name not in ("source_file", "errors_file")),
        "source_file_link",
        "errors_file_link",
    ]
    fields = [name for name in readonly_fields if name != "id"]

    @admin.display(description=_("uploaded file"))
    def source_file_link(self, batch):
        if not batch.source_file:
            return "—"
        return format_html('<a href="{}">{}</a>', batch.source_file.url, batch.file_name or batch.source_file.name)

    @admin.display(description=_("rejected rows file"))
    def errors_file_link(self, batch):
        if not batch.errors_file:
            return "—"
        return format_html('<a href="{}">{}</a>', batch.errors_file.url, _("Download the rejected rows"))

    def scoped_queryset(self, request, queryset):
        return queryset & import_batch_queryset_for_user(request.user)


@admin.register(HeaderMappingProfile)
class HeaderMappingProfileAdmin(GroupWideModelAdmin):
    """How DMS columns are read for every store's import: changed only by group-wide staff."""

    list_display = ["name", "kind", "is_default", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(Segment)
class SegmentAdmin(ScopedSimpleHistoryAdmin):
    """A segment without a store is the group's: only group-wide staff see or change it. The filters
    are edited on the segment page, where they are validated."""

    list_display = ["name", "store", "created_by", "updated_at"]
    search_fields = ["name"]
    readonly_fields = ["definition", "created_by"]

    def scoped_queryset(self, request, queryset):
        return queryset & segment_queryset_for_user(request.user)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "store" in form.base_fields and not sees_all_stores(request.user):
            form.base_fields["store"].required = True
        return form

    def save_model(self, request, obj, form, change):
        segment_save(segment=obj, user=request.user)


@admin.register(CustomerNote)
class CustomerNoteAdmin(ReadOnlyModelAdmin):
    """Notes are written on the card (customer_note_add); the admin only shows them."""

    list_display = ["customer", "kind", "author", "created_at"]
    raw_id_fields = ["customer", "author"]
    search_fields = ["customer__customer_no", "text"]
    list_select_related = ["customer", "author"]

    def scoped_queryset(self, request, queryset):
        return queryset & customer_note_queryset_for_user(request.user)

"""The import pages, the import batch page and the customer list in the Chinese UI: no English word
left over (admin widgets, import issue rows, the import form's own texts)."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from customers.choices import ImportStatus
from customers.models import ImportBatch
from tests.customers.dms_helpers import customer_row, write_csv
from tests.customers.test_admin_import import upload
from tests.factories import CustomerFactory, VehicleFactory

pytestmark = pytest.mark.django_db

# Words of the English UI that must never show in the Chinese one.
ENGLISH_WORDS = {
    "add", "all", "and", "available", "batch", "batches", "cancel", "change", "choose", "clear", "column",
    "confirm", "created", "customer", "customers", "date", "delete", "details", "done", "download", "error",
    "errors", "export", "field", "fields", "file", "filter", "following", "format", "history", "import",
    "importer", "issue", "issues", "line", "missing", "name", "next", "none", "number", "page", "preview",
    "previous", "reason", "rejected", "remove", "resource", "row", "rows", "save", "search", "select",
    "severity", "show", "status", "store", "submit", "the", "this", "today", "unchanged", "unknown",
    "updated", "upload", "value", "view", "warning", "warnings", "will", "yesterday",
}  # fmt: skip


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code", "template"):
            self.skip += 1
        attributes = dict(attrs)
        for name in ("title", "placeholder", "aria-label"):
            if attributes.get(name):
                self.parts.append(attributes[name])
        if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.parts.append(attributes["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code", "template") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def english_words(html: str) -> set[str]:
    parser = _Text()
    parser.feed(html)
    words = {word.lower() for word in re.findall(r"[A-Za-z]+", " ".join(parser.parts))}
    return words & ENGLISH_WORDS


def test_the_import_pages_and_the_customer_list_speak_chinese(client, admin_user, store_a, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    owner = CustomerFactory(store=store_a, customer_no="C100", name="王芳")
    VehicleFactory(customer=owner, plate_no="苏A77777")
    client.force_login(admin_user)
    rows = [
        customer_row("C001"),
        customer_row("", 客户姓名="李娜"),
        customer_row("C002", 客户姓名="", 出生日期="2023-02-30"),
    ]
    preview = upload(client, write_csv(tmp_path / "c.csv", rows))
    batch = preview.context["result"].dms_batch
    running = ImportBatch.objects.create(kind="customers", file_name="r.csv", user=admin_user,
                                         status=ImportStatus.RUNNING, total_rows=10, processed_rows=4)  # fmt: skip

    pages = {
        "upload form": client.get(reverse("admin:customers_customer_import")),
        "preview": preview,
        "batch page": client.get(reverse("admin:customers_importbatch_change", args=[batch.pk])),
        "running batch page": client.get(reverse("admin:customers_importbatch_change", args=[running.pk])),
        "batch list": client.get(reverse("admin:customers_importbatch_changelist")),
        "customer admin": client.get(reverse("admin:customers_customer_changelist")),
        "customer admin card": client.get(reverse("admin:customers_customer_change", args=[owner.pk])),
        "vehicle upload form": client.get(reverse("admin:customers_vehicle_import")),
        "repair order upload form": client.get(reverse("admin:customers_repairorder_import")),
        "customer list": client.get(reverse("customers:list"), {"q": "苏A77777"}),
    }

    leaks = {name: sorted(english_words(page.content.decode())) for name, page in pages.items()}
    assert leaks == {name: [] for name in pages}

"""Uploaded files (rejected rows, DMS files, complaint attachments) are only ever served to a user
the owning app lets read them — with DEBUG on as with DEBUG off, and at /media/ as on the apps' own
download links."""

import importlib

import pytest
from django.core.files.base import ContentFile
from django.urls import clear_url_caches, reverse

import config.urls
from complaints.models import ComplaintAttachment
from crm.choices import Role
from customers.choices import ImportKind
from customers.models import ImportBatch
from tests.complaints.factories import ComplaintFactory
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["DEBUG=0", "DEBUG=1"])
def debug(request, settings, tmp_path):
    """The URLconf as it is built with DEBUG off and on (config.urls reads DEBUG when imported)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DEBUG = request.param
    importlib.reload(config.urls)
    clear_url_caches()
    yield request.param
    settings.DEBUG = False
    importlib.reload(config.urls)
    clear_url_caches()


@pytest.fixture
def importer_a(store_a):
    return UserFactory(username="importer_a", role=Role.ADMIN, stores=[store_a], is_staff=True)


@pytest.fixture
def importer_b(store_b):
    return UserFactory(username="importer_b", role=Role.ADMIN, stores=[store_b], is_staff=True)


@pytest.fixture
def batch_a(debug, importer_a, store_a):
    batch = ImportBatch.objects.create(kind=ImportKind.CUSTOMERS, file_name="客户.csv", store=store_a, user=importer_a)
    batch.source_file.save(f"upload-{batch.pk}.csv", ContentFile("客户编号\nC001\n".encode("utf-8-sig")), save=False)
    batch.errors_file.save(f"rejected-{batch.pk}.csv", ContentFile("\ufeff客户编号,原因\n,缺少客户编号\n".encode()))
    return batch


@pytest.fixture
def attachment_a(debug, store_a):
    complaint = ComplaintFactory(customer=CustomerFactory(store=store_a, customer_no="CA0001"))
    attachment = ComplaintAttachment(
        complaint=complaint, original_name="来信.pdf", content_type="application/pdf", size=8
    )
    attachment.file.save("letter.pdf", ContentFile(b"%PDF-1.4"))
    return attachment


def content(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_rejected_rows_file_is_served_to_the_importer_only(client, batch_a, importer_b, advisor_a):
    url = batch_a.errors_file.url
    assert url == f"/media/dms_imports/errors/rejected-{batch_a.pk}.csv"

    anonymous = client.get(url)
    client.force_login(importer_b)
    other_store = client.get(url)
    client.force_login(advisor_a)
    without_permission = client.get(url)
    client.force_login(batch_a.user)
    own = client.get(url)

    assert (anonymous.status_code, anonymous["Location"]) == (302, f"{reverse('login')}?next={url}")
    assert (other_store.status_code, without_permission.status_code) == (404, 404)
    assert own.status_code == 200
    assert content(own) == "\ufeff客户编号,原因\n,缺少客户编号\n".encode()
    assert own["Content-Type"] == "text/csv; charset=utf-8"
    assert own["Content-Disposition"] == f'attachment; filename="rejected-{batch_a.pk}.csv"'
    assert "no-store" in own["Cache-Control"]


def test_the_uploaded_dms_file_is_served_to_the_importer_only(client, batch_a, importer_b):
    url = batch_a.source_file.url

    client.force_login(importer_b)
    other_store = client.get(url)
    client.force_login(batch_a.user)
    own = client.get(url)

    assert other_store.status_code == 404
    assert (own.status_code, content(own)) == (200, "客户编号\nC001\n".encode("utf-8-sig"))


def test_the_import_page_in_the_admin_links_to_files_its_viewer_can_open(client, batch_a):
    client.force_login(batch_a.user)
    page = client.get(reverse("admin:customers_importbatch_change", args=[batch_a.pk])).content.decode()

    for link in (batch_a.source_file.url, batch_a.errors_file.url):
        assert f'href="{link}"' in page
        assert client.get(link).status_code == 200


def test_a_complaint_attachment_is_served_within_the_complaint_scope_only(client, attachment_a, manager_a, manager_b):
    url = attachment_a.file.url

    anonymous = client.get(url)
    client.force_login(manager_b)
    other_store = client.get(url)
    client.force_login(manager_a)
    own = client.get(url)

    assert anonymous.status_code == 302
    assert other_store.status_code == 404
    assert (own.status_code, content(own), own["Content-Type"]) == (200, b"%PDF-1.4", "application/pdf")
    assert own["Content-Disposition"] == "attachment; filename*=utf-8''%E6%9D%A5%E4%BF%A1.pdf"


def test_the_apps_own_download_links_keep_their_scope(client, batch_a, attachment_a, importer_b, manager_a, manager_b):
    errors = reverse("customers:import_errors", args=[batch_a.pk])
    attachment = reverse("complaints:attachment", args=[attachment_a.complaint_id, attachment_a.pk])

    anonymous = [client.get(errors).status_code, client.get(attachment).status_code]
    client.force_login(importer_b)
    other_importer = client.get(errors).status_code
    client.force_login(manager_b)
    other_manager = client.get(attachment).status_code
    client.force_login(batch_a.user)
    own_errors = client.get(errors).status_code
    client.force_login(manager_a)
    own_attachment = client.get(attachment).status_code

    assert anonymous == [302, 302]
    assert (other_importer, other_manager) == (404, 404)
    assert (own_errors, own_attachment) == (200, 200)


def test_a_file_no_app_claims_is_served_to_nobody(client, debug, admin_user, settings):
    settings.MEDIA_ROOT.mkdir(parents=True)
    (settings.MEDIA_ROOT / "stray.csv").write_text("13812341234")
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)

    assert client.get("/media/stray.csv").status_code == 404
    assert client.get("/media/../config/settings/base.py").status_code == 404


def test_a_claimed_file_missing_from_disk_is_404(client, batch_a):
    batch_a.errors_file.storage.delete(batch_a.errors_file.name)
    client.force_login(batch_a.user)

    assert client.get(batch_a.errors_file.url).status_code == 404

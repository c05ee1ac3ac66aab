"""Headless Chromium: an advisor finds a customer by pinyin initials and adds a note; an admin
uploads a GBK CSV with a bad row, sees the preview with the reason, confirms, downloads the rejects."""

from pathlib import Path

import pytest

from customers.models import Customer, CustomerNote
from tests.browser import browser_page, log_in  # noqa: F401
from tests.customers.dms_helpers import customer_row, write_csv
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_advisor_finds_by_pinyin_initials_and_adds_a_note(browser_page, live_server, advisor_a, store_a):  # noqa: F811
    zhang = CustomerFactory(store=store_a, customer_no="CA0001", name="张伟")
    CustomerFactory(store=store_a, customer_no="CA0002", name="李娜")
    page = browser_page
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")

    page.fill("#global-search", "zw")
    page.press("#global-search", "Enter")
    page.wait_for_selector('tr[data-customer-no="CA0001"]')
    assert page.locator("tr[data-customer-no]").count() == 1
    page.click('tr[data-customer-no="CA0001"] a')
    page.wait_for_selector(f'header[data-customer="{zhang.pk}"]')

    page.fill("form[data-form=note] textarea", "客户想了解置换政策")
    page.click("form[data-form=note] button[type=submit]")
    page.wait_for_selector('#timeline li[data-kind="note"]:has-text("客户想了解置换政策")')

    assert CustomerNote.objects.get().text == "客户想了解置换政策"


def test_a_full_number_typed_in_the_search_box_never_goes_into_a_url(browser_page, live_server, advisor_a, store_a):  # noqa: F811
    caller = CustomerFactory(store=store_a, customer_no="CA0009", name="王芳", mobile="13912345678")
    page = browser_page
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")
    visited = []
    page.on("request", lambda request: visited.append(request.url))

    page.fill("#global-search", "139 1234 5678")
    page.press("#global-search", "Enter")
    page.wait_for_selector(f'header[data-customer="{caller.pk}"]')

    assert not [url for url in visited if "1391234" in url.replace("%20", "").replace("+", "")]


def test_admin_uploads_gbk_csv_previews_confirms_and_downloads_rejects(
    browser_page,  # noqa: F811
    live_server,
    admin_user,
    tmp_path,
    settings,
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    path = write_csv(tmp_path / "customers.csv", [customer_row("C001"), customer_row("", 客户姓名="李娜"),
                                                  customer_row("C002", 客户姓名="王芳")], encoding="gbk")  # fmt: skip
    page = browser_page
    log_in(page, live_server, "admin_user", "pw-for-tests-1")

    page.goto(f"{live_server.url}/admin/customers/customer/import/")
    page.set_input_files("#id_import_file", str(path))
    page.select_option(
        "#id_format", index=1 if page.locator("#id_format option").first.get_attribute("value") == "" else 0
    )
    page.click("form[enctype] [type=submit]")
    rejected = page.wait_for_selector('tr[data-row="3"][data-severity="rejected"]')
    assert rejected.query_selector(".reason").inner_text().strip() in ("缺少客户编号", "Missing customer number")
    assert page.inner_text('[data-count="created"]') == "2"
    assert Customer.objects.count() == 0

    page.click("input[name=confirm]")
    page.wait_for_selector('#import-progress[data-status="done"]')
    with page.expect_download() as download_info:
        page.click('#import-progress a[data-download="rejected"]')
    content = Path(download_info.value.path()).read_bytes()

    assert content.startswith(b"\xef\xbb\xbf")
    assert ",李娜," in content.decode("utf-8-sig")
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["张伟", "王芳"]

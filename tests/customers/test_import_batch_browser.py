"""Headless Chromium: the import batch page shows the final state, its figures and its issues as
soon as the import finishes, without a reload."""

import pytest

from customers.choices import ImportKind, ImportStatus
from customers.models import ImportBatch
from tests.browser import browser_page, log_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_batch_page_shows_the_finished_state_and_figures_without_a_reload(
    browser_page,  # noqa: F811
    live_server,
    admin_user,
):
    batch = ImportBatch.objects.create(kind=ImportKind.CUSTOMERS, file_name="c.csv", user=admin_user,
                                       status=ImportStatus.RUNNING, total_rows=5, processed_rows=5)  # fmt: skip
    page = browser_page
    log_in(page, live_server, "admin_user", "pw-for-tests-1")
    page.goto(f"{live_server.url}/admin/customers/importbatch/{batch.pk}/change/")
    page.wait_for_selector('#import-progress[data-status="running"]')
    loads = []
    page.on("load", lambda _page: loads.append(1))

    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.DONE, created_count=4, rejected_count=1)

    page.wait_for_selector('#import-progress[data-status="done"]')
    assert page.inner_text(".field-status .readonly").strip() == "已完成"
    assert page.inner_text(".field-created_count .readonly").strip() == "4"
    assert page.inner_text(".field-rejected_count .readonly").strip() == "1"
    assert loads == []  # no reload


def test_the_preview_shows_what_an_update_changes(browser_page, live_server, admin_user, store_a, tmp_path):  # noqa: F811
    from tests.customers.dms_helpers import customer_row, run_import, write_csv

    run_import("customers", write_csv(tmp_path / "first.csv", [customer_row("C001")]))
    path = write_csv(tmp_path / "second.csv", [customer_row("C001", 客户姓名="李娜")])
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 900})
    log_in(page, live_server, "admin_user", "pw-for-tests-1")

    page.goto(f"{live_server.url}/admin/customers/customer/import/")
    page.set_input_files("#id_import_file", str(path))
    page.select_option(
        "#id_format", index=1 if page.locator("#id_format option").first.get_attribute("value") == "" else 0
    )
    page.click("form[enctype] [type=submit]")
    change = page.wait_for_selector('tr[data-change-row="2"][data-field="name"]')

    assert [cell.inner_text() for cell in change.query_selector_all("td")] == ["2", "C001", "客户姓名", "张伟", "李娜"]
    assert page.inner_text('[data-count="updated"]') == "1"


def test_the_admin_widgets_of_the_card_and_the_import_form_speak_chinese(browser_page, live_server, admin_user,  # noqa: F811
                                                                          store_a):  # fmt: skip
    import re

    from tests.customers.test_import_words import ENGLISH_WORDS
    from tests.factories import CustomerFactory

    card = CustomerFactory(store=store_a, customer_no="C100", name="王芳")
    page = browser_page
    log_in(page, live_server, "admin_user", "pw-for-tests-1")
    leaks = {}
    for path in [f"/admin/customers/customer/{card.pk}/change/", "/admin/customers/customer/import/"]:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
        text = page.evaluate("document.body.innerText")
        leaks[path] = sorted({word.lower() for word in re.findall(r"[A-Za-z]+", text)} & ENGLISH_WORDS)

    assert leaks == {path: [] for path in leaks}

"""Headless Chromium sweep of the desks' pages (issue "The desks"): every page, as the role that
works it, on a 768-px tablet and a 390-px phone — no horizontal page scroll, no console error, no
failed request; a screenshot of each is kept in the tests' artefacts folder (tests/browser.py)."""

import datetime

import pytest
from django.utils import timezone

from crm.calendar import WorkingCalendar
from customers.services.appointments import appointment_book
from customers.services.interviews import delivery_interview_record
from customers.services.prospects import prospect_create
from tests.browser import browser_page, log_in, save_screenshot  # noqa: F401
from tests.factories import CustomerFactory, VehicleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = (768, 390)


@pytest.fixture
def desk_data(store_a, sales_a, advisor_a):
    today = timezone.localdate()
    customer = CustomerFactory(store=store_a, name="林晓峰", mobile="13811112222")
    delivered = VehicleFactory(customer=customer, delivery_date=today - datetime.timedelta(days=1), sales_consultant="")
    interviewed = VehicleFactory(customer=customer, delivery_date=today - datetime.timedelta(days=3))
    delivery_interview_record(
        user=sales_a, vehicle=interviewed, scores=dict.fromkeys(_factor_codes(), 4), comment="交车很顺利"
    )
    prospect = prospect_create(
        user=sales_a, store=store_a, name="许可", mobile="13922223333", intended_model="轩逸", source="showroom",
        consultant=sales_a,
    )  # fmt: skip
    day = WorkingCalendar().next_working_day(today)  # today, if it is a working day
    appointment_book(
        user=advisor_a,
        customer=customer,
        vehicle=delivered,
        date=day,
        slot=datetime.time(9, 0),
        purpose="maintenance",
        source="desk",
    )
    return {"customer": customer, "vehicle": delivered, "prospect": prospect, "day": day}


def _factor_codes() -> list[str]:
    from customers.selectors.interviews import DEFAULT_FACTORS

    return [code for code, _label, _position in DEFAULT_FACTORS]


def _sweep(page, live_server, *, role: str, paths: dict[str, str]) -> None:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None)
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}")
            if response.status >= 400 and response.url.startswith(live_server.url)
            else None
        ),
    )
    for name, path in paths.items():
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            save_screenshot(page, f"desks-{role}-{name}-{width}")
            page_width = page.evaluate("document.scrollingElement.scrollWidth")
            assert page_width <= width, (name, width, page_width)
    assert problems == []


def test_the_sales_consultants_pages(browser_page, live_server, sales_a, desk_data):  # noqa: F811
    log_in(browser_page, live_server, "sales_a", "pw-for-tests-1")
    customer, vehicle, prospect = desk_data["customer"], desk_data["vehicle"], desk_data["prospect"]
    _sweep(
        browser_page,
        live_server,
        role="sales",
        paths={
            "home": "/",
            "new-customer": "/customers/new/",
            "delivery": "/customers/desk/delivery/",
            "interview": f"/customers/vehicles/{vehicle.pk}/interview/",
            "prospects": "/customers/prospects/",
            "new-prospect": "/customers/prospects/new/",
            "prospect": f"/customers/prospects/{prospect.pk}/",
            "my-tasks": "/followups/mine/",
            "book": f"/customers/{customer.pk}/appointments/new/",
            "complaint": f"/complaints/new/?customer={customer.pk}",
        },
    )


def test_the_service_advisors_pages(browser_page, live_server, advisor_a, desk_data):  # noqa: F811
    log_in(browser_page, live_server, "advisor_a", "pw-for-tests-1")
    customer = desk_data["customer"]
    _sweep(
        browser_page,
        live_server,
        role="advisor",
        paths={
            "home": "/",
            "arrivals": f"/customers/arrivals/?date={desk_data['day']:%Y-%m-%d}",
            "card": f"/customers/{customer.pk}/",
            "new-vehicle": f"/customers/{customer.pk}/vehicles/new/",
            "my-tasks": "/followups/mine/",
            "complaint": f"/complaints/new/?customer={customer.pk}",
        },
    )


def test_the_managers_pages(browser_page, live_server, manager_a, desk_data):  # noqa: F811
    log_in(browser_page, live_server, "manager_a", "pw-for-tests-1")
    _sweep(
        browser_page,
        live_server,
        role="manager",
        paths={
            "interviews": "/customers/interviews/",
            "interview-questions": "/customers/interviews/factors/",
            "booking-settings": "/customers/appointments/settings/",
            "bookings-report": "/customers/appointments/report/",
            "prospects": "/customers/prospects/",
            "reports": "/followups/reports/",
        },
    )

"""The load harness (bench/load/locustfile.py, bench/load_bench.py) does not rot: read without
locust (a bench-only tool, not installed by ``make test``), its scenarios, their tasks, the pages
they ask for and the managers' codes are checked against the code."""

import ast
import datetime
import hashlib
import hmac
import importlib.util
import struct
import time
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

from crm.mfa import totp_current_code, totp_device_ensure_confirmed

BENCH = Path(__file__).resolve().parents[2] / "bench"
LOCUSTFILE = BENCH / "load" / "locustfile.py"

SCENARIOS = {
    "AgentUser": {"work_the_queue"},
    "AdvisorUser": {
        "search_customers",
        "open_card",
        "arrivals_board",
        "complaint_list",
        "club_members",
        "club_members_sorted",
        "member_page",
        "club_events",
    },
    "SalesUser": {"prospects", "my_tasks", "delivery_desk"},
    "ManagerUser": {
        "followup_reports",
        "complaint_dashboard",
        "retention_dashboard",
        "customer_list",
        "complaint_list",
        "club_members",
        "club_members_sorted",
        "segment_list",
        "segment_page",
        "campaigns",
        "assigned_calls",
        "followup_rules",
        "bookings_report",
        "delivery_interviews",
        "prospect_report",
        "satisfaction_over_time",
        "retention_customers",
        "queue_preview",
    },
    "ApiUser": {"list_customers", "list_ordered"},
    "CeilingUser": {"healthz"},
}


@pytest.fixture(scope="module")
def tree() -> ast.Module:
    return ast.parse(LOCUSTFILE.read_text(encoding="utf-8"))


def _classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def _is_task(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Name) and target.id == "task"


def _driver():
    spec = importlib.util.spec_from_file_location("load_bench", BENCH / "load_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the driver imports Django and locust only when it runs
    return module


def test_every_scenario_has_its_tasks(tree):
    classes = _classes(tree)
    tasks = {
        name: {
            item.name
            for item in classes[name].body
            if isinstance(item, ast.FunctionDef) and any(_is_task(d) for d in item.decorator_list)
        }
        for name in SCENARIOS
        if name in classes
    }
    assert tasks == SCENARIOS


def test_the_roles_of_the_scenarios_are_the_accounts_the_driver_prepares(tree):
    roles = {}
    for name, node in _classes(tree).items():
        for item in node.body:
            if isinstance(item, ast.Assign) and [t.id for t in item.targets if isinstance(t, ast.Name)] == ["role"]:
                roles[name] = item.value.value
    assert roles == {
        "StaffUser": "",
        "AgentUser": "call_agent",
        "AdvisorUser": "service_advisor",
        "SalesUser": "sales_consultant",
        "ManagerUser": "manager",
        "ApiUser": "api",
        "SignedInCeilingUser": "call_agent",  # the claim-cycle run's ceiling (load_bench.py --ceiling)
    }
    driver = _driver()
    assert set(driver.ROLES) == set(roles.values()) - {""}
    assert driver.ROLES == {
        "call_agent": "call_agent",
        "service_advisor": "service_advisor",
        "sales_consultant": "sales_consultant",
        "manager": "manager",
        "api": "manager",
    }


def _paths(tree: ast.Module) -> set[str]:
    """Every path the scenarios request: string constants and f-strings (a number for each field)."""
    paths = set()
    parts = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    for node in ast.walk(tree):
        if id(node) in parts:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("/"):
            if " " in node.value:  # a request's name in the figures ("/healthz (ceiling)"), not a path
                continue
            if node.value.startswith("/proc/"):  # the machine's CPU figures the harness reads, not a page
                continue
            paths.add(node.value)
        elif isinstance(node, ast.JoinedStr):
            text = "".join(part.value if isinstance(part, ast.Constant) else "1" for part in node.values)
            if text.startswith("/"):
                paths.add(text)
    return paths


def test_every_path_the_scenarios_ask_for_is_a_page_of_the_site(tree):
    paths = _paths(tree)
    assert paths == {
        "/accounts/login/",
        "/accounts/verify/",
        "/api/token/",
        "/api/customers/",
        "/api/vehicles/",
        "/api/members/",
        "/api/complaints/",
        "/customers/",
        "/customers/1/",
        "/customers/arrivals/",
        "/customers/prospects/",
        "/customers/retention/",
        "/customers/satisfaction/",
        "/customers/segments/",
        "/customers/segments/1/",
        "/customers/desk/delivery/",
        "/customers/appointments/report/",
        "/customers/interviews/",
        "/customers/prospects/report/",
        "/complaints/",
        "/customers/retention/customers/",
        "/complaints/dashboard/",
        "/club/",
        "/club/members/1/",
        "/club/events/",
        "/followups/campaigns/",
        "/followups/mine/",
        "/followups/rules/",
        "/followups/queue/",
        "/followups/queue/next/",
        "/followups/queue/call/1/outcome/",
        "/followups/reports/",
        "/followups/preview/",
        "/followups/preview/progress/",
        "/healthz",
    }
    names = set()
    for path in paths:
        try:
            match = resolve(path)
        except Resolver404:  # pragma: no cover - the assertion below names the path
            names.add(f"unknown {path}")
        else:
            names.add(match.view_name)
    assert "api-not-found" not in names
    assert not {name for name in names if name.startswith("unknown")}


@pytest.mark.django_db
def test_the_managers_code_is_the_one_their_authenticator_shows(tree, manager_a):
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "totp_code")
    namespace = {"hashlib": hashlib, "hmac": hmac, "struct": struct, "time": time}
    exec(compile(ast.Module(body=[function], type_ignores=[]), str(LOCUSTFILE), "exec"), namespace)
    device = totp_device_ensure_confirmed(user=manager_a)
    before = totp_current_code(device)
    code = namespace["totp_code"](device.key)
    # The 30-second step may turn between the two reads: then the code is the one of either side.
    assert code in {before, totp_current_code(device)}
    assert len(code) == 6
    assert namespace["totp_code"]("3132333435363738393031323334353637383930", at=59, digits=8) == "94287082"


@pytest.mark.django_db
def test_the_desks_data_is_written_once_and_topped_up(store_a, monkeypatch):
    """What the desks and dashboards show on the bench database: written where missing, never twice."""
    import sys

    from django.db import connection

    from crm.roles import Role
    from followups.services import followup_rules_ensure_defaults
    from tests.factories import CustomerFactory, UserFactory, VehicleFactory

    monkeypatch.syspath_prepend(str(BENCH))  # the driver imports the bench's own helpers by name
    driver = _driver()
    monkeypatch.setattr(driver, "PROSPECTS_PER_STORE", 5)
    monkeypatch.setattr(driver, "BOOKINGS_PER_STORE_TODAY", 4)
    monkeypatch.setattr(driver, "OWNED_TASKS_PER_CONSULTANT", 3)
    monkeypatch.setattr(driver, "COMPLAINTS", 6)
    consultant = UserFactory(username="load_sales_consultant_0", role=Role.SALES_CONSULTANT, stores=[store_a])
    advisor = UserFactory(username="load_service_advisor_0", role=Role.SERVICE_ADVISOR, stores=[store_a])
    for _index in range(10):
        VehicleFactory(customer=CustomerFactory(store=store_a), store=store_a)
    followup_rules_ensure_defaults(stores=[store_a])
    today = datetime.date(2026, 12, 2)

    def counts() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT count(*) FROM customers_prospect WHERE consultant_id = %(c)s),"
                " (SELECT count(*) FROM customers_appointment WHERE advisor_id = %(a)s AND date = %(d)s),"
                " (SELECT count(*) FROM customers_appointment WHERE is_vip),"
                " (SELECT count(*) FROM followups_followuptask WHERE assignee_id = %(c)s AND status = 'open'),"
                " (SELECT count(*) FROM complaints_complaint),"
                " (SELECT count(*) FROM complaints_complaint WHERE status = 'closed'),"
                " (SELECT count(*) FROM customers_satisfactionresult WHERE store_id IS NOT NULL),"
                " (SELECT COALESCE(sum(results), 0) FROM customers_satisfactionmonth WHERE dimension = 'rule')",
                {"c": consultant.pk, "a": advisor.pk, "d": today},
            )
            return list(cursor.fetchone())

    driver.desk_data_ensure(stores=[store_a], today=today)
    assert counts() == [5, 4, 1, 3, 6, 4, 10, 10]
    driver.desk_data_ensure(stores=[store_a], today=today)
    assert counts() == [5, 4, 1, 3, 6, 4, 10, 10]
    assert "benchdb" in sys.modules


@pytest.mark.django_db
def test_the_club_segments_campaigns_and_events_are_written_once(store_a, store_b, monkeypatch):
    """The club started and run, the segment facts built, segments, campaigns and events with their
    lists: written where missing, never twice."""
    from django.db import connection

    from tests.factories import CustomerFactory, VehicleFactory

    monkeypatch.syspath_prepend(str(BENCH))
    driver = _driver()
    monkeypatch.setattr(driver, "CAMPAIGNS_PER_STORE", 3)
    monkeypatch.setattr(driver, "EVENTS_PER_STORE", 5)
    monkeypatch.setattr(driver, "REGISTRATIONS_PER_EVENT", 2)
    for _index in range(12):
        VehicleFactory(customer=CustomerFactory(store=store_a), store=store_a, delivery_date=datetime.date(2024, 5, 1))
    today = datetime.date(2026, 12, 2)

    def counts() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT count(*) FROM customers_customerstats),"
                " (SELECT count(*) FROM clubs_storeclub),"
                " (SELECT count(*) FROM clubs_membership),"
                " (SELECT count(*) FROM customers_segment WHERE description = 'load bench'),"
                " (SELECT count(*) FROM followups_campaign),"
                " (SELECT count(*) FROM followups_campaign WHERE status = 'draft'),"
                " (SELECT count(*) FROM clubs_clubevent),"
                " (SELECT count(*) FROM clubs_clubevent WHERE starts_at > now()),"
                " (SELECT count(*) FROM clubs_eventregistration),"
                " (SELECT count(DISTINCT customer_id) FROM clubs_eventregistration)"
            )
            return list(cursor.fetchone())

    # Store B has no owners: its club starts empty, its events have nobody on their lists.
    driver.club_and_marketing_data_ensure(stores=[store_a, store_b], today=today)
    expected = [12, 2, 12, 2 * len(driver.SEGMENTS), 6, 4, 10, 8, 10, 10]
    assert counts() == expected
    driver.club_and_marketing_data_ensure(stores=[store_a, store_b], today=today)
    assert counts() == expected

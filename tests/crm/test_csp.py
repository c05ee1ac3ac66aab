"""Content-Security-Policy (django-csp): the header on every page, no inline script, handler or
style attribute in our templates, and no violation in headless Chromium on the main pages."""

import re
from pathlib import Path

import pytest

from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory, UserFactory

BASE_DIR = Path(__file__).resolve().parent.parent.parent
TEMPLATE_FILES = sorted(p for p in BASE_DIR.glob("**/templates/**/*.html") if ".venv" not in p.parts)


@pytest.mark.django_db
def test_every_page_has_the_policy(client, advisor_a):
    header = client.get("/accounts/login/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in header.split(";"))
    # A page that uses no nonce gets none: only scripts and styles from our own files.
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    client.force_login(advisor_a)
    assert "'unsafe-inline'" not in client.get("/customers/")["Content-Security-Policy"]


@pytest.mark.django_db
def test_a_page_that_uses_the_nonce_gets_a_fresh_one_each_time(client, advisor_a):
    client.force_login(advisor_a)
    first = client.get("/api/docs/")["Content-Security-Policy"]
    second = client.get("/api/docs/")["Content-Security-Policy"]
    assert re.search(r"style-src 'self' 'nonce-[A-Za-z0-9+/=_-]+'", first)
    assert first != second


def test_templates_have_no_inline_scripts_handlers_or_style_attributes():
    assert len(TEMPLATE_FILES) > 20
    offenders = []
    for path in TEMPLATE_FILES:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<script\b[^>]*>", text):
            tag = match.group(0)
            if "src=" not in tag and 'type="application/json"' not in tag and "nonce=" not in tag:
                offenders.append(f"{path.relative_to(BASE_DIR)}: {tag}")
        for match in re.finditer(r"<style\b[^>]*>", text):
            if "nonce=" not in match.group(0):
                offenders.append(f"{path.relative_to(BASE_DIR)}: {match.group(0)}")
        offenders += [f"{path.relative_to(BASE_DIR)}: {m}" for m in re.findall(r"\s(on[a-z]+=\"[^\"]*\")", text)]
        offenders += [f"{path.relative_to(BASE_DIR)}: {m}" for m in re.findall(r"\sstyle=\"[^\"]*\"", text)]
    assert offenders == []


@pytest.mark.django_db
def test_swagger_ui_has_no_inline_script_and_its_style_carries_the_nonce(client, advisor_a):
    client.force_login(advisor_a)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    page = response.content.decode()
    assert f'<style nonce="{nonce}">' in page
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


# --- In the browser ------------------------------------------------------------------------------

PAGES = {
    "service_advisor": ["/", "/customers/", "/customers/?q=王", "/customers/{customer}/", "/complaints/"],
    "call_agent": ["/", "/followups/queue/", "/customers/{customer}/", "/complaints/"],
    "manager": [
        "/",
        "/customers/",
        "/customers/{customer}/",
        "/customers/segments/",
        "/followups/rules/",
        "/followups/reports/",
        "/followups/sms/",
        "/complaints/",
        "/complaints/dashboard/",
    ],
    "admin": ["/", "/admin/", "/admin/crm/user/", "/admin/customers/customer/", "/api/docs/"],
}

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI + " " + event.sourceFile);
});
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_main_pages_of_each_role_show_no_csp_violation(browser_page, live_server, store_a):  # noqa: F811
    from crm.choices import Role
    from followups.models import FollowupRule
    from followups.services import followup_rules_ensure_defaults

    customer = CustomerFactory(store=store_a)
    users = {
        "service_advisor": UserFactory(username="csp_advisor", role=Role.SERVICE_ADVISOR, stores=[store_a]),
        "call_agent": UserFactory(username="csp_agent", role=Role.CALL_AGENT, stores=[store_a]),
        "manager": UserFactory(username="csp_manager", role=Role.MANAGER, stores=[store_a]),
        "admin": UserFactory(
            username="csp_admin", role=Role.ADMIN, stores=[store_a], is_staff=True, sees_all_stores=True
        ),
    }
    pages = {role: list(paths) for role, paths in PAGES.items()}
    followup_rules_ensure_defaults(stores=[store_a])
    rule = FollowupRule.objects.filter(store=store_a).order_by("pk").first()
    pages["manager"].append(f"/followups/rules/{rule.pk}/")  # the SMS counter script

    page = browser_page
    page.add_init_script(COLLECT_VIOLATIONS)
    console = []
    page.on("console", lambda message: console.append(message.text))
    visited = []
    for role, user in users.items():
        log_in(page, live_server, user.username, "pw-for-tests-1")
        assert "/accounts/" not in page.url, (role, page.url)
        for path in pages[role]:
            response = page.goto(live_server.url + path.format(customer=customer.pk))
            page.wait_for_load_state("load")
            if path == "/api/docs/":
                page.wait_for_selector(".opblock")  # Swagger UI ran and drew the operations
            assert response.status < 500, (role, path)
            violations = page.evaluate("window.__cspViolations")
            assert violations == [], (role, path, violations)
            visited.append((role, path, response.status))
        page.context.clear_cookies()
    assert [text for text in console if "Content Security Policy" in text or "Refused to" in text] == []
    assert ("admin", "/api/docs/", 200) in visited

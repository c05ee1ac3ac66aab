"""Role-based load scenarios of issue 16, for locust (``bench/requirements.txt``).

Started by ``bench/load_bench.py``, which prepares the bench users and passes their names, the
password and the managers' authenticator secrets in the JSON file ``LOAD_USERS_FILE``. Every
request goes to gunicorn as if through the production TLS proxy: ``X-Forwarded-Proto: https`` and
an ``X-Forwarded-For`` address of its own per simulated person (a dealer group's staff sit behind
different addresses; log-in and search limits count per address or per user, not per bench).

Each simulated person logs in once (managers confirm their code as everyone else does: the code is
computed from their authenticator secret, the way their phone app computes it), then works:

- ``AgentUser``: the call queue, "next call" then "save and next call" (reached; the queue's figures and
  list come with the panel, out of band, as the page gets them), with the time a call
  takes between two outcomes (``LOAD_AGENT_THINK`` seconds, ``MIN,MAX``; ``0``: no pause at all, the
  claim-cycle run of agents only);
- ``AdvisorUser``: searches customers by name, opens a card, the arrivals board; now and then the
  complaint list, the club's members (by card, and by balance or joining day) and a member's page,
  the club's events;
- ``SalesUser``: prospects, My tasks; now and then the delivery desk's buyer search;
- ``ManagerUser``: follow-up reports of one month, the complaint dashboard, the retention dashboard,
  satisfaction over time (the last 12 months, by service advisor of record), the customers behind
  the retention dashboard's "won back" figure;
  now and then the customer and complaint lists, the club's members (by card, and by balance or
  joining day), segments and a segment's page,
  SMS campaigns, the assigned calls of all staff, the follow-up rules, bookings against capacity,
  delivery interviews, prospects won and lost, and tomorrow's queue preview: the page answers at
  once with the counts the Celery worker made (kept a few minutes, shared by the group's managers)
  or with a progress line, which it then polls every second as the page's htmx does until the
  counts are there (each poll a request of its own, the last one bringing the counts);
- ``ApiUser``: a token from ``POST /api/token/`` (with ``otp_code``), then pages of ``/api/customers/``,
  and now and then of the customers, vehicles, members or complaints in an order with ties (by name,
  last change, insurance or delivery day, balance, joining day, closing due);
- ``CeilingUser``: ``/healthz`` (one in every run), the machine's ceiling in the same run;
- ``SignedInCeilingUser``: a call agent who, logged in, asks without any pause for the log-in page,
  which answers a signed-in person with a redirect home: the session, the user and the middleware,
  nothing else. With as many of them as agents in the claim-cycle run, it is the most that run
  could get from this machine, this stack and this load tool if a cycle cost nothing of its own.
"""

import hashlib
import hmac
import itertools
import json
import logging
import os
import random
import re
import struct
import time
from http.cookiejar import DefaultCookiePolicy

import gevent
from locust import HttpUser, between, constant, task

with open(os.environ.get("LOAD_USERS_FILE", "bench-users.json"), encoding="utf-8") as _file:
    SETUP = json.load(_file)

#: Seconds an agent spends on a call between two outcomes (a real call lasts minutes).
AGENT_THINK = [float(part) for part in os.environ.get("LOAD_AGENT_THINK", "3,8").split(",")]
#: Seconds measured once everyone has logged in (0: until locust's own --run-time ends).
MEASURE_SECONDS = float(os.environ.get("LOAD_MEASURE_SECONDS", "0"))
CARD_LINK = re.compile(r'href="/customers/(\d+)/"')
MEMBER_LINK = re.compile(r'href="/club/members/(\d+)/"')
#: The members list's orders besides the card number's (a store's first page and the group's).
MEMBER_ORDERS = ("balance", "-balance", "joined", "-joined")
#: The API lists' orders a sync program asks for (each with ties: crm.api.filters.StableOrderingFilter).
API_ORDERS = (
    ("/api/customers/", "name"), ("/api/customers/", "-updated_at"), ("/api/vehicles/", "insurance_expiry"),
    ("/api/vehicles/", "-delivery_date"), ("/api/members/", "-points_balance"), ("/api/members/", "joined_on"),
    ("/api/complaints/", "close_due_at"),
)  # fmt: skip
SEGMENT_LINK = re.compile(r'href="/customers/segments/(\d+)/"')
OUTCOME_ACTION = re.compile(r'action="/followups/queue/call/(\d+)/outcome/"')
#: The queue preview while its counts are being made (its htmx polls then, every second).
PREVIEW_COUNTING = 'data-preview-state="running"'
#: The most polls of one preview before the simulated manager gives up, with a warning (a count lasts seconds).
PREVIEW_MAX_POLLS = int(os.environ.get("LOAD_PREVIEW_MAX_POLLS", "180"))
_addresses = itertools.count(1)
_logged_in = itertools.count(1)


def everyone_started(environment) -> None:
    """Called by each simulated person once logged in: when the last one is, the figures start
    afresh (log-ins hash passwords on purpose slowly; they are not the pages measured) and the run
    ends ``MEASURE_SECONDS`` later."""
    runner = environment.runner
    if runner is None or next(_logged_in) != runner.target_user_count:
        return
    errors = runner.stats.errors.values()
    if errors:  # a log-in refused, say: the reset below would hide it
        logging.warning(
            "Failures before everyone had logged in (not in the figures): %s",
            "; ".join(f"{error.method} {error.name}: {error.error} × {error.occurrences}" for error in errors),
        )
    runner.stats.reset_all()
    logging.info("Everyone logged in: statistics reset, measuring for %s s", MEASURE_SECONDS or "the run time")
    if MEASURE_SECONDS:
        started = machine_cpu()
        gevent.spawn_later(MEASURE_SECONDS, measured, runner, started)


def machine_cpu() -> tuple[float, float]:
    """Seconds of CPU the whole machine has been busy and in all (every core), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as file:
        fields = [int(value) for value in file.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - fields[3] - fields[4]) / ticks, sum(fields) / ticks  # minus idle and iowait


def measured(runner, started: tuple[float, float]) -> None:
    """End of the measured window: say how busy the whole machine was in it (gunicorn, PostgreSQL
    and locust itself), which tells a run bound by the machine from one bound by the pages."""
    busy, everything = (now - then for now, then in zip(machine_cpu(), started, strict=True))
    logging.info(
        "Machine CPU in the measured window: busy %.1f s of %.1f s (busy_seconds=%.2f)", busy, everything, busy
    )
    runner.quit()


def totp_code(hex_key: str, *, step: int = 30, digits: int = 6, at: float | None = None) -> str:
    """RFC 6238 code of ``hex_key`` (django-otp's TOTPDevice.key), as an authenticator app shows it."""
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(bytes.fromhex(hex_key), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


# The cookies are ``Secure`` (production settings); between the pretend TLS proxy and gunicorn the
# hop is plain HTTP on loopback, so this load-test process sends them anyway. (A policy set on the
# session's jar is not enough: requests copies the cookies into a fresh jar for every request.)
DefaultCookiePolicy.return_ok_secure = lambda self, cookie, request: True


class StaffUser(HttpUser):
    """A person of one role with a bench account taken from that role's pool."""

    abstract = True
    role = ""
    pool = itertools.count()

    def on_start(self):
        index = next(type(self).pool)
        account = SETUP["roles"][self.role][index % len(SETUP["roles"][self.role])]
        self.username = account["username"]
        self.totp_key = account.get("totp_key", "")
        number = next(_addresses)
        self.client.headers.update(
            {"X-Forwarded-Proto": "https", "X-Forwarded-For": f"10.16.{number // 250}.{number % 250 + 1}"}
        )
        self.origin = self.host.replace("http://", "https://")
        self.log_in()
        everyone_started(self.environment)

    def page(self, path: str, name: str, headers: dict | None = None, **params):
        """GET a page; anything but 200 (a redirect to the log-in page, a 403…) is a failure."""
        with self.client.get(
            path, params=params or None, name=name, headers=headers, allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code} {r.headers.get('Location', '')}")
            return r

    def post(self, path: str, name: str, data: dict | None = None, **headers):
        """POST as the page's htmx does; anything but 200 is a failure."""
        with self.client.post(
            path, data=data, name=name, headers=self.csrf_headers(**headers), allow_redirects=False,
            catch_response=True,
        ) as r:  # fmt: skip
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code} {r.headers.get('Location', '')}")
            return r

    def csrf_headers(self, **extra) -> dict:
        return {"X-CSRFToken": self.client.cookies.get("csrftoken", ""), "Origin": self.origin, **extra}

    def log_in(self):
        """The log-in page, the password, and for managers the code: each answered by a redirect
        onwards (the form shown again, a wrong password or code, is a failure)."""
        self.client.get("/accounts/login/", name="log-in page")
        steps = [("/accounts/login/", "log in", {"username": self.username, "password": SETUP["password"]})]
        if self.totp_key:  # managers: the second factor, as on their phone
            steps.append(("/accounts/verify/", "log in: confirm code", {"code": totp_code(self.totp_key)}))
        for path, name, data in steps:
            with self.client.post(
                path, data=data, name=name, headers=self.csrf_headers(), allow_redirects=False, catch_response=True
            ) as response:
                if response.status_code != 302:
                    response.failure(f"HTTP {response.status_code}: not logged in")


class AgentUser(StaffUser):
    """A call-centre agent working the queue: on the phone between two outcomes for AGENT_THINK seconds
    (none when it is 0: the claim cycle measured with agents only)."""

    weight = 20
    role = "call_agent"
    pool = itertools.count()
    wait_time = constant(0) if max(AGENT_THINK) == 0 else between(min(AGENT_THINK), max(AGENT_THINK))
    customer_id = None

    @task
    def work_the_queue(self):
        # As the queue page's htmx sends them: the page's address tells the server to send the
        # queue's figures and list with the panel (out of band), so no refresh request follows.
        htmx = {"HX-Request": "true", "HX-Current-URL": f"{self.origin}/followups/queue/"}
        if self.customer_id is None:
            response = self.post("/followups/queue/next/", "call: claim next", **htmx)
        else:
            response = self.post(
                f"/followups/queue/call/{self.customer_id}/outcome/",
                "call: record outcome + claim next",
                {"outcome": "reached", "notes": ""},
                **htmx,
            )
        found = OUTCOME_ACTION.search(response.text or "")
        self.customer_id = int(found.group(1)) if found else None
        if "queue-changed" in response.headers.get("HX-Trigger", ""):
            # A server that does not send the figures and the list with the panel asks the page to
            # refresh them (one request of their own; the code before the out-of-band figures).
            with self.client.get("/followups/queue/", name="call queue: figures and list refresh",
                                 headers={"HX-Request": "true", "HX-Target": "queue-figures"},
                                 allow_redirects=False, catch_response=True) as refresh:  # fmt: skip
                if refresh.status_code != 200:
                    refresh.failure(f"HTTP {refresh.status_code}")
        if found is None:
            time.sleep(1)  # the queue is empty: come back in a moment

    def on_start(self):
        super().on_start()
        self.page("/followups/queue/", "call queue page")  # once: agents then stay on the call panel


class AdvisorUser(StaffUser):
    """A service advisor: searches a customer, opens the card, looks at the arrivals board; now and
    then the complaints, the club's members (a member's points) and events."""

    weight = 12
    role = "service_advisor"
    pool = itertools.count()
    wait_time = between(1, 3)
    cards: list[str] = []
    members: list[str] = []

    @task(3)
    def search_customers(self):
        query = f"车主{random.randint(1, 99999)}"
        response = self.page("/customers/", "customer search", q=query)
        self.cards = CARD_LINK.findall(response.text or "")

    @task(3)
    def open_card(self):
        if self.cards:
            self.page(f"/customers/{random.choice(self.cards)}/", "customer card")

    @task(1)
    def arrivals_board(self):
        self.page("/customers/arrivals/", "arrivals board")

    @task(1)
    def complaint_list(self):
        self.page("/complaints/", "complaint list")

    @task(1)
    def club_members(self):
        response = self.page("/club/", "club members")
        self.members = MEMBER_LINK.findall(response.text or "")

    @task(1)
    def club_members_sorted(self):
        self.page("/club/", "club members, by balance or joining day", sort=random.choice(MEMBER_ORDERS))

    @task(1)
    def member_page(self):
        if self.members:
            self.page(f"/club/members/{random.choice(self.members)}/", "club member page (points ledger)")

    @task(1)
    def club_events(self):
        self.page("/club/events/", "club events")


class SalesUser(StaffUser):
    """A sales consultant on prospects and My tasks; now and then a buyer looked up at the delivery desk."""

    weight = 6
    role = "sales_consultant"
    pool = itertools.count()
    wait_time = between(1, 3)

    @task(3)
    def prospects(self):
        self.page("/customers/prospects/", "prospects")

    @task(3)
    def my_tasks(self):
        self.page("/followups/mine/", "my tasks")

    @task(1)
    def delivery_desk(self):
        self.page("/customers/desk/delivery/", "delivery desk, buyer search", q=f"车主{random.randint(1, 99999)}")


class ManagerUser(StaffUser):
    """A manager of the whole group on the reports and dashboards; now and then the lists behind
    them (complaints, members, segments, campaigns, assigned calls, rules, bookings, interviews)
    and tomorrow's queue preview with its polls."""

    weight = 6
    role = "manager"
    pool = itertools.count()
    wait_time = between(1, 3)
    segments: list[str] = []

    @task(3)
    def followup_reports(self):
        self.page("/followups/reports/", "follow-up reports, one month", **SETUP["report_month"])

    @task(3)
    def complaint_dashboard(self):
        self.page("/complaints/dashboard/", "complaint dashboard")

    @task(3)
    def retention_dashboard(self):
        self.page("/customers/retention/", "retention dashboard")

    @task
    def satisfaction_over_time(self):
        self.page("/customers/satisfaction/", "satisfaction over time, by advisor", by="advisor")

    @task(1)
    def customer_list(self):
        self.page("/customers/", "customer list, group")

    @task(1)
    def complaint_list(self):
        self.page("/complaints/", "complaint list, group")

    @task(1)
    def club_members(self):
        self.page("/club/", "club members, group")

    @task(1)
    def club_members_sorted(self):
        self.page("/club/", "club members, group, by balance or joining day", sort=random.choice(MEMBER_ORDERS))

    @task(1)
    def segment_list(self):
        response = self.page("/customers/segments/", "segments")
        self.segments = SEGMENT_LINK.findall(response.text or "")

    @task(1)
    def segment_page(self):
        if self.segments:
            self.page(f"/customers/segments/{random.choice(self.segments)}/", "segment page")

    @task(1)
    def campaigns(self):
        self.page("/followups/campaigns/", "SMS campaigns")

    @task(1)
    def assigned_calls(self):
        self.page("/followups/mine/", "assigned calls (My tasks, all staff)")

    @task(1)
    def followup_rules(self):
        self.page("/followups/rules/", "follow-up rules")

    @task(1)
    def bookings_report(self):
        self.page("/customers/appointments/report/", "bookings against capacity")

    @task(1)
    def delivery_interviews(self):
        self.page("/customers/interviews/", "delivery interviews")

    @task(1)
    def prospect_report(self):
        self.page("/customers/prospects/report/", "prospects won and lost")

    @task(1)
    def queue_preview(self):
        """Tomorrow's queue preview, then its polls (as its htmx: every second while counting)."""
        response = self.page("/followups/preview/", "tomorrow's queue preview")
        for _poll in range(PREVIEW_MAX_POLLS):
            if PREVIEW_COUNTING not in (response.text or ""):
                return
            time.sleep(1)
            response = self.page(
                "/followups/preview/progress/", "tomorrow's queue preview: poll while counting",
                headers={"HX-Request": "true"},
            )  # fmt: skip
        if PREVIEW_COUNTING in (response.text or ""):
            logging.warning("tomorrow's queue preview: still counting after %s polls", PREVIEW_MAX_POLLS)

    @task
    def retention_customers(self):
        self.page(
            "/customers/retention/customers/", "customers behind 'won back'",
            month=SETUP["report_month"]["start"][:7], to="active", previous=["dormant", "lost"],
        )  # fmt: skip


class ApiUser(StaffUser):
    """A program of the group reading customers through the API with its token."""

    weight = 4
    role = "api"
    pool = itertools.count()
    wait_time = between(0.5, 1.5)

    def log_in(self):
        response = self.client.post(
            "/api/token/",
            json={"username": self.username, "password": SETUP["password"], "otp_code": totp_code(self.totp_key)},
            name="API token",
        )
        token = response.json().get("token", "") if response.ok else ""
        self.client.headers["Authorization"] = f"Token {token}"

    @task(3)
    def list_customers(self):
        self.page("/api/customers/", "API customer list", page=random.randint(1, 20))

    @task(1)
    def list_ordered(self):
        path, ordering = random.choice(API_ORDERS)
        self.page(path, "API lists, ordered (customers, vehicles, members, complaints)", ordering=ordering,
                  page=random.randint(1, 20))  # fmt: skip


class CeilingUser(HttpUser):
    """The trivial page, probed by one user in every run: the best answer time any page can get from
    this machine while the others work."""

    fixed_count = 1
    wait_time = between(0.5, 1.5)

    def on_start(self):
        self.client.headers.update({"X-Forwarded-Proto": "https"})
        everyone_started(self.environment)

    @task
    def healthz(self):
        self.client.get("/healthz", name="/healthz (ceiling)")


class SignedInCeilingUser(StaffUser):
    """The cheapest request a signed-in person can make, without pauses (``load_bench.py --ceiling``)."""

    abstract = not os.environ.get("LOAD_SIGNED_IN_CEILING")  # never one of the mixed runs' people
    role = "call_agent"
    pool = itertools.count()
    wait_time = constant(0)

    @task
    def signed_in(self):
        with self.client.get(
            "/accounts/login/", name="signed in: log-in page → redirect home (ceiling)", allow_redirects=False,
            catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 302:
                response.failure(f"HTTP {response.status_code}: not signed in")

"""Demo data for `make run`: a dealer group of three Nanjing stores and one user per role.

Each domain app may add its own demo data in a ``demo.py`` with ``seed(*, context: DemoContext)``;
the ``seed_demo`` command calls them in INSTALLED_APPS order after this module's stores and users.
A ``demo.py`` may also tell ``is_seeded(*, context) -> bool``: when one says its data is there, the
command only refreshes the demo users (unless ``--force``).
"""

import random
import secrets
from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth.models import Group

from crm.choices import Role
from crm.models import Store, User

DEMO_STORES = [
    ("NJ01", "东风日产南京江宁店", "东风日产", "025-52101234", "南京市江宁区天元东路388号", "江宁日产"),
    ("NJ02", "东风日产南京鼓楼店", "东风日产", "025-83301234", "南京市鼓楼区中山北路200号", "鼓楼日产"),
    ("NJ03", "北京现代南京建邺店", "北京现代", "025-86601234", "南京市建邺区江东中路98号", "建邺现代"),
]
# username, family name, given name, role, stores (None = the whole group)
DEMO_USERS = [
    ("admin", "周", "建国", Role.ADMIN, None),
    ("manager", "王", "海燕", Role.MANAGER, ["NJ01"]),
    ("advisor", "顾", "明", Role.SERVICE_ADVISOR, ["NJ01"]),
    ("agent", "陈", "晨", Role.CALL_AGENT, ["NJ01", "NJ02"]),
    ("sales", "沈", "浩", Role.SALES_CONSULTANT, ["NJ01"]),
]


@dataclass
class DemoContext:
    today: date
    rng: random.Random
    stores: dict[str, Store]
    users: dict[str, User]
    owners: int = 0  # how many car owners the demo should hold (seed_demo --customers)
    counts: dict[str, int] = field(default_factory=dict)


def demo_password() -> str:
    """A fresh random password for the demo users (printed by `make run`, never a fixed one)."""
    return secrets.token_urlsafe(9)


def seed_stores_and_users(*, password: str) -> tuple[dict[str, Store], dict[str, User]]:
    stores = {}
    for code, name, brand, phone, address, signature in DEMO_STORES:
        stores[code], _created = Store.objects.update_or_create(
            code=code,
            defaults={"name": name, "brand": brand, "phone": phone, "address": address, "sms_signature": signature},
        )
    users = {}
    for username, family_name, given_name, role, store_codes in DEMO_USERS:
        user, _created = User.objects.get_or_create(username=username)
        user.last_name, user.first_name = family_name, given_name
        user.email = f"{username}@demo.invalid"
        user.is_staff = role in (Role.ADMIN, Role.MANAGER)
        user.is_superuser = role == Role.ADMIN
        user.sees_all_stores = store_codes is None
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role.value)])
        user.stores.set([stores[code] for code in (store_codes or stores)])
        users[username] = user
    return stores, users

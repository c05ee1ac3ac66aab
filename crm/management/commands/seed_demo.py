import random
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from crm.demo import DemoContext, demo_password, seed_stores_and_users
from crm.mfa import totp_device_ensure_confirmed, totp_secret_base32, user_needs_second_factor


class Command(BaseCommand):
    help = "Load the demo dealer group (3 stores, ~2,000 owners, 5 years of repair orders) and demo users."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000, help="How many owners (default 2000).")
        parser.add_argument("--password", help="Password for the demo users (default: a new random one).")
        parser.add_argument("--seed", type=int, default=20261122, help="Random seed, for repeatable data.")
        parser.add_argument("--force", action="store_true", help="Load even if demo data is already there.")

    def handle(self, *args, customers, password, seed, force, **options):
        if not (settings.DEBUG or settings.DEMO_MODE):
            raise CommandError("Demo data is for demonstrations only: set DEBUG=1 or DEMO_MODE=1 to load it.")
        if customers < 1:
            raise CommandError("--customers must be at least 1.")
        password = password or demo_password()
        with transaction.atomic():
            stores, users = seed_stores_and_users(password=password)
            secrets = {
                username: totp_secret_base32(totp_device_ensure_confirmed(user=user))
                for username, user in users.items()
                if user_needs_second_factor(user)
            }
            context = DemoContext(
                today=timezone.localdate(), rng=random.Random(seed), stores=stores, users=users, owners=customers
            )
            modules = _demo_modules()
            already_loaded = any(
                module.is_seeded(context=context) for module in modules if hasattr(module, "is_seeded")
            )
            if already_loaded and not force:
                self.stdout.write("Demo data is already loaded; demo users refreshed.")
                self._write_credentials(users, password, secrets)
                return
            for module in modules:
                module.seed(context=context)
        figures = " ".join(f"{name}={count}" for name, count in context.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {figures}"))
        self._write_credentials(users, password, secrets)

    def _write_credentials(self, users, password: str, secrets: dict[str, str]) -> None:
        self.stdout.write(f"Demo users: {', '.join(users)} — password: {password}")
        for username, secret in secrets.items():
            self.stdout.write(
                f"{username} also enters a 6-digit code: TOTP secret {secret} (any authenticator app), "
                f"or `manage.py totp_code {username}` prints the current one."
            )


def _demo_modules() -> list:
    """The ``demo`` module of every app that has one (crm/demo.py), in INSTALLED_APPS order."""
    modules = []
    for app_config in apps.get_app_configs():
        module_name = f"{app_config.name}.demo"
        if app_config.name != "crm" and find_spec(module_name) is not None:
            modules.append(import_module(module_name))
    return modules

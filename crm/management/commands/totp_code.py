from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from crm.mfa import totp_current_code, totp_device_for_user
from crm.models import User


class Command(BaseCommand):
    help = "Print the current 6-digit log-in code of a demo manager or administrator (DEMO_MODE only)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="The demo user, e.g. manager or admin.")

    def handle(self, *args, username, **options):
        if not settings.DEMO_MODE:
            raise CommandError("totp_code is for the demo only: set DEMO_MODE=1. Real staff use their own app.")
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        device = totp_device_for_user(user=user)
        if device is None:
            raise CommandError(f"{username} has no authenticator device: only managers and administrators have one.")
        self.stdout.write(totp_current_code(device))

"""AppConfigs of third-party apps with a translated name: the admin's index shows an app's
``verbose_name`` as its section title, and the libraries' own are their raw labels ("Axes",
"Otp_Totp"), untranslated in the Chinese UI. INSTALLED_APPS names these instead of the libraries'."""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.apps import DefaultConfig as TotpAppConfig


class AxesConfig(AxesAppConfig):
    verbose_name = _("Log-in protection")


class TotpConfig(TotpAppConfig):
    verbose_name = _("Two-step verification devices")

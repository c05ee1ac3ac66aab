"""`seed_demo` runs each app's demo.py; an app's ``is_seeded`` tells the data is there already."""

from io import StringIO

import pytest
from django.core.management import call_command

from customers.models import Customer


@pytest.mark.django_db
def test_a_second_run_only_refreshes_the_users_once_an_app_says_its_data_is_there(settings):
    settings.DEMO_MODE = True
    first, second = StringIO(), StringIO()

    call_command("seed_demo", "--customers", "3", "--password", "demo-pw-123", stdout=first)
    customer_ids = sorted(Customer.objects.values_list("id", flat=True))
    call_command("seed_demo", "--customers", "3", "--password", "demo-pw-123", stdout=second)

    assert len(customer_ids) == 3
    assert "Demo data loaded: customers=3 " in first.getvalue()
    assert "customers_wanted" not in first.getvalue()
    assert second.getvalue().startswith("Demo data is already loaded; demo users refreshed.\n")
    assert sorted(Customer.objects.values_list("id", flat=True)) == customer_ids

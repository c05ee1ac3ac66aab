import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from followups.models import InboundSms
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_manager_sees_only_the_sms_replies_of_his_stores_in_the_admin(client, manager_a, store_a, store_b):
    manager_a.is_staff = True
    manager_a.save(update_fields=["is_staff"])
    received = timezone.now() - datetime.timedelta(hours=1)
    own = InboundSms.objects.create(
        mobile="13900001111", text="TD", received_at=received, customer=CustomerFactory(store=store_a)
    )
    InboundSms.objects.create(
        mobile="13900002222", text="TD", received_at=received, customer=CustomerFactory(store=store_b)
    )
    InboundSms.objects.create(mobile="13900003333", text="TD", received_at=received)
    client.force_login(manager_a)

    response = client.get(reverse("admin:followups_inboundsms_changelist"))

    assert response.status_code == 200
    assert [reply.pk for reply in response.context["cl"].result_list] == [own.pk]
    assert "13900002222" not in response.content.decode()

"""Words with several meanings have a context each in the catalogue (msgctxt), so each place gets
its own Chinese: a customer's name is 姓名, a segment's or a campaign's 名称, the customer's value in
a segment 客户价值, and how a consent, a result or a booking came is 来源 (not 客户来源)."""

import pytest
from django.urls import reverse
from django.utils import translation

from customers.models import Appointment, Customer, CustomerConsent, Prospect, SatisfactionResult, Segment

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def test_the_new_customer_form_names_the_person(client, advisor_a):
    client.force_login(advisor_a)

    html = client.get(reverse("customers:create"), **ZH).content.decode()

    assert '<label for="id_name">姓名 *</label>' in html
    assert ">名称 *</label>" not in html


def test_the_segment_form_names_the_segment_and_the_customer_value(client, manager_a):
    client.force_login(manager_a)

    html = client.get(reverse("customers:segment_create"), **ZH).content.decode()

    assert '<legend><label for="id_name">名称</label></legend>' in html
    assert '">客户价值</label></legend>' in html
    assert ">姓名</label>" not in html


def test_the_segment_list_heads_the_segment_s_name_as_a_name_of_a_thing(client, manager_a, store_a):
    Segment.objects.create(name="高价值客户", store=store_a, definition={})
    client.force_login(manager_a)

    html = client.get(reverse("customers:segment_list"), **ZH).content.decode()

    assert '<th scope="col">名称</th>' in html
    assert '<th scope="col">姓名</th>' not in html


def test_the_model_labels_in_chinese():
    with translation.override("zh-hans"):
        assert [
            str(model._meta.get_field(name).verbose_name)
            for model, name in [
                (Customer, "name"),
                (Prospect, "name"),
                (Customer, "source"),
                (CustomerConsent, "source"),
                (SatisfactionResult, "source"),
                (Appointment, "source"),
            ]
        ] == ["姓名", "姓名", "客户来源", "来源", "来源", "来源"]

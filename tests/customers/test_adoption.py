"""The DMS import adopts a card made in the CRM instead of creating a second one (docs/desk.md)."""

import pytest

from customers.models import Customer, CustomerConsent, CustomerNote, Vehicle
from customers.services import customer_consent_record, customer_create, customer_note_add, vehicle_create
from tests.customers.dms_helpers import customer_row, make_vin, run_import, vehicle_row, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def provisional(advisor_a, store_a):
    card = customer_create(user=advisor_a, store=store_a, data={"name": "张伟", "mobile": "13812345678"})
    customer_note_add(customer=card, user=advisor_a, text="交车时说想加装行车记录仪")
    customer_consent_record(customer=card, user=advisor_a, purpose="marketing", is_granted=True, source="desk")
    return card


def reasons(card):
    return [h.history_change_reason for h in card.history.order_by("history_id")]


def test_adopted_by_mobile_and_name(tmp_path, provisional, store_a):
    old_no = provisional.customer_no
    path = write_csv(tmp_path / "c.csv", [customer_row("C001", 详细地址="金宝路1号")])

    summary = run_import("customers", path)

    assert Customer.objects.count() == 1
    card = Customer.objects.get()
    assert card.pk == provisional.pk
    assert (card.customer_no, card.is_provisional, card.address) == ("C001", False, "金宝路1号")
    assert CustomerNote.objects.get().customer_id == card.pk
    assert CustomerConsent.objects.get(purpose="marketing").customer_id == card.pk
    history = reasons(card)
    assert history[0] == "created in the CRM"
    assert history[1].startswith("Adopted by DMS import #")
    assert history[1].endswith(f"(provisional number {old_no})")
    assert history[2].startswith("DMS import #")
    assert "created=0 updated=1" in summary

    again = run_import("customers", path)  # the same file again: nothing changes
    assert "created=0 updated=0 unchanged=1" in again
    assert Customer.objects.count() == 1
    assert len(reasons(Customer.objects.get())) == 3


def test_no_adoption_when_the_name_differs(tmp_path, provisional):
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001", 客户姓名="张伟伟")]))
    assert Customer.objects.count() == 2
    provisional.refresh_from_db()
    assert provisional.is_provisional is True
    assert provisional.customer_no.startswith("CRM-NJ01-")


def test_no_adoption_from_another_store(tmp_path, provisional, store_b):
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001", 所属门店="NJ02")]))
    assert Customer.objects.count() == 2
    provisional.refresh_from_db()
    assert provisional.is_provisional is True


def test_two_provisional_cards_of_one_person_are_not_guessed(tmp_path, provisional, advisor_a, store_a):
    customer_create(user=advisor_a, store=store_a, data={"name": "张伟", "mobile": "13812345678"},
                    duplicates_confirmed=True)  # fmt: skip
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001")]))
    assert Customer.objects.count() == 3
    assert Customer.objects.filter(is_provisional=True).count() == 2


def test_adopted_by_vin_when_the_vehicles_file_names_a_new_customer(tmp_path, provisional, advisor_a):
    vin = make_vin(7)
    vehicle_create(user=advisor_a, customer=provisional, data={"vin": vin})
    old_no = provisional.customer_no

    summary = run_import("vehicles", write_csv(tmp_path / "v.csv", [vehicle_row(vin, "C777", 车牌号="苏A77777")]))

    assert "rejected=0" in summary
    card = Customer.objects.get()
    assert (card.pk, card.customer_no, card.is_provisional) == (provisional.pk, "C777", False)
    assert Vehicle.objects.get().plate_no == "苏A77777"
    assert reasons(card)[-1].endswith(f"(provisional number {old_no})")

    # The customers file of the same customer then updates that card (another mobile and name even).
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C777", 客户姓名="张伟（先生）")]))
    assert Customer.objects.count() == 1
    assert Customer.objects.get().name == "张伟（先生）"
    assert CustomerNote.objects.get().customer_id == card.pk


def test_a_preview_adopts_nothing(tmp_path, provisional):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001")])
    run_import("customers", path, "--dry-run")
    provisional.refresh_from_db()
    assert provisional.is_provisional is True
    assert len(reasons(provisional)) == 1


def test_the_card_shows_the_adoption(client, tmp_path, provisional, advisor_a):
    old_no = provisional.customer_no
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001")]))
    client.force_login(advisor_a)
    body = client.get(f"/customers/{provisional.pk}/").content.decode()
    assert "档案由 DMS 导入接管" in body
    assert f"provisional number {old_no}" in body
    assert 'data-badge="provisional"' not in body

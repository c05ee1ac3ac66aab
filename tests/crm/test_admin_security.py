"""The admin applies the rules of every other screen (issue 14): store scope (another store's object
is a 404), the top-secret rule, phones masked unless the user may unmask them (every reveal
audited), history that can be read but not reverted, and nobody grants what they do not hold."""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from complaints.models import Complaint, StoreComplaintSettings
from crm.choices import AuditAction, Role
from crm.models import AuditLog, CalendarDay, Store, User
from customers.choices import Confidentiality
from customers.models import Customer, Segment, Vehicle
from customers.services import customer_save
from followups.models import CallAttempt, FollowupRule, InboundSms, SmsMessage
from tests.complaints.factories import ComplaintFactory, ComplaintTypeFactory
from tests.factories import CustomerFactory, StoreFactory, UserFactory
from tests.followups.factories import CallAttemptFactory, FollowupTaskFactory, rules_for

pytestmark = pytest.mark.django_db


def staff(user) -> User:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def admin_b(store_b):
    """An administrator of one store only (store B): staff, admin role, not group-wide."""
    return UserFactory(username="admin_b", role=Role.ADMIN, stores=[store_b], is_staff=True)


@pytest.fixture
def card_a(store_a, manager_a):
    """A card of store A with two versions: the number changed once."""
    customer = CustomerFactory(store=store_a, customer_no="A0001", name="李甲", mobile="13800000001")
    customer.mobile = "13900000002"
    customer_save(customer=customer, user=manager_a)
    return customer


def clerk_of(store, *codenames) -> User:
    """Staff of one store holding only the given permissions (no unmask permission unless named)."""
    clerk = UserFactory(username=f"clerk_{store.code}", stores=[store], is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return clerk


def history_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_history", args=[obj.pk])


def version_url(obj, version) -> str:
    info = (obj._meta.app_label, obj._meta.model_name)
    return reverse("admin:{}_{}_simple_history".format(*info), args=[obj.pk, version.history_id])


def reveals() -> int:
    return AuditLog.objects.filter(action=AuditAction.VIEW_UNMASKED_PHONE).count()


# --- 1. history and revert ---------------------------------------------------------------------


def test_history_of_another_stores_card_is_a_404_with_no_number(client, manager_b, card_a):
    client.force_login(staff(manager_b))
    version = card_a.history.earliest()

    listing = client.get(history_url(card_a))
    form = client.get(version_url(card_a, version))

    assert (listing.status_code, form.status_code) == (404, 404)
    assert "1380000" not in listing.content.decode() + form.content.decode()
    assert reveals() == 0


def test_a_revert_of_another_stores_card_changes_nothing(client, manager_b, store_b, card_a):
    client.force_login(staff(manager_b))
    version = card_a.history.earliest()
    data = {"customer_no": "A0001", "name": "李甲", "store": store_b.pk, "mobile": "13800000001", "gender": "M"}

    response = client.post(version_url(card_a, version), data)

    assert response.status_code == 404
    card_a.refresh_from_db()
    assert (card_a.store.code, card_a.mobile, card_a.history.count()) == ("NJ01", "13900000002", 2)


def test_a_revert_of_an_own_card_is_refused_the_card_is_edited_through_its_form(client, manager_a, card_a):
    client.force_login(staff(manager_a))
    version = card_a.history.earliest()

    page = client.get(version_url(card_a, version))
    response = client.post(version_url(card_a, version), {"customer_no": "A0001", "mobile": "13800000001"})

    assert page.status_code == 200
    assert page.context["revert_disabled"] is True
    assert response.status_code == 403
    card_a.refresh_from_db()
    assert (card_a.mobile, card_a.history.count()) == ("13900000002", 2)


def test_history_masks_numbers_for_staff_without_the_unmask_permission(client, store_a, card_a):
    client.force_login(clerk_of(store_a, "view_customer"))
    version = card_a.history.earliest()

    listing = client.get(history_url(card_a))
    form = client.get(version_url(card_a, version))

    assert (listing.status_code, form.status_code) == (200, 200)
    text = listing.content.decode()
    assert "138****0001" in text
    assert "139****0002" in text
    assert "13800000001" not in text + form.content.decode()
    assert "13900000002" not in text + form.content.decode()
    assert "mobile" not in form.context["adminform"].form.fields
    assert reveals() == 0


def test_history_shows_numbers_to_staff_who_may_unmask_them_and_logs_each_view(client, manager_a, card_a):
    client.force_login(staff(manager_a))
    version = card_a.history.earliest()

    listing = client.get(history_url(card_a))
    form = client.get(version_url(card_a, version))

    assert "13800000001" in listing.content.decode()
    assert 'value="13800000001"' in form.content.decode()
    entries = AuditLog.objects.filter(action=AuditAction.VIEW_UNMASKED_PHONE).order_by("id")
    assert [(entry.actor, entry.object_type, entry.object_ids) for entry in entries] == [
        (manager_a, "customers.customer", [str(card_a.pk)]),
        (manager_a, "customers.customer", [str(card_a.pk)]),
    ]


def test_history_of_a_top_secret_card_is_a_404_for_staff_not_named_on_it(client, admin_user, store_a):
    card = CustomerFactory(store=store_a, mobile="13800000003", confidentiality=Confidentiality.TOP_SECRET)
    customer_save(customer=card, user=admin_user)
    client.force_login(admin_user)

    assert client.get(history_url(card)).status_code == 404
    assert client.get(version_url(card, card.history.earliest())).status_code == 404


def test_a_version_from_when_the_card_was_another_stores_is_not_shown(client, manager_a, store_a, store_b):
    card = CustomerFactory(store=store_b, customer_no="M0001", mobile="13800000004")
    customer_save(customer=card, user=manager_a)
    card.store = store_a
    customer_save(customer=card, user=manager_a)
    client.force_login(staff(manager_a))

    listing = client.get(history_url(card))

    assert [record.store_id for record in listing.context["page_obj"].object_list] == [store_a.pk]
    old_version = card.history.filter(store=store_b).first()
    assert client.get(version_url(card, old_version)).status_code == 404


def _other_store_objects(store_a, manager_a):
    customer = CustomerFactory(store=store_a, customer_no="H0001")
    customer_save(customer=customer, user=manager_a)
    vehicle = Vehicle.objects.create(customer=customer, store=store_a, vin="LGBH52E0000000777")
    segment = Segment.objects.create(name="A店", store=store_a, definition={})
    rule = rules_for(store_a)["delivery_thanks"]
    rule.save()
    settings_a = StoreComplaintSettings.objects.create(store=store_a)
    complaint = ComplaintFactory(customer=customer)
    return [customer, vehicle, segment, rule, settings_a, complaint]


def test_every_history_page_of_another_store_is_a_404(client, manager_a, manager_b, store_a):
    objects = _other_store_objects(store_a, manager_a)
    client.force_login(staff(manager_b))

    statuses = {}
    for obj in objects:
        version = obj.history.earliest()
        statuses[obj._meta.model_name] = (client.get(history_url(obj)).status_code,
                                          client.get(version_url(obj, version)).status_code)  # fmt: skip

    names = ["customer", "vehicle", "segment", "followuprule", "storecomplaintsettings", "complaint"]
    assert statuses == {name: (404, 404) for name in names}


def test_the_history_of_a_group_segment_is_only_for_group_wide_staff(client, manager_a, admin_user):
    segment = Segment.objects.create(name="集团", definition={})
    segment.save()
    client.force_login(staff(manager_a))
    assert client.get(history_url(segment)).status_code == 404
    client.force_login(admin_user)
    assert client.get(history_url(segment)).status_code == 200


# --- 2. stores ---------------------------------------------------------------------------------


def test_a_store_manager_sees_and_edits_only_their_store(client, manager_b, store_a, store_b):
    client.force_login(staff(manager_b))
    url_a = reverse("admin:crm_store_change", args=[store_a.pk])

    listing = client.get(reverse("admin:crm_store_changelist"))
    page = client.get(url_a)
    posted = client.post(url_a, {"code": "NJ01", "name": "被改名", "sms_signature": "假签名"})

    assert [store.code for store in listing.context["cl"].result_list] == ["NJ02"]
    assert (page.status_code, posted.status_code) == (404, 404)
    store_a.refresh_from_db()
    assert (store_a.name, store_a.sms_signature) == ("江宁店", "江宁日产")


def test_a_store_manager_changes_their_stores_signature_and_call_windows_not_its_name(client, manager_b, store_b):
    client.force_login(staff(manager_b))
    url = reverse("admin:crm_store_change", args=[store_b.pk])
    data = {"code": "X", "name": "新名字", "brand": "X", "is_active": "", "phone": "025-1", "address": "",
            "sms_signature": "鼓楼日产", "morning_call_start": "09:00", "morning_call_end": "12:00",
            "afternoon_call_start": "13:00", "afternoon_call_end": "18:00"}  # fmt: skip

    response = client.post(url, data)

    assert response.status_code == 302
    store_b.refresh_from_db()
    assert (store_b.code, store_b.name, store_b.is_active) == ("NJ02", "鼓楼店", True)
    assert (store_b.sms_signature, store_b.morning_call_start) == ("鼓楼日产", datetime.time(9, 0))


def test_only_group_wide_staff_add_stores(client, admin_b, admin_user):
    client.force_login(admin_b)
    refused = client.post(reverse("admin:crm_store_add"), {"code": "NJ09", "name": "新店"})
    client.force_login(admin_user)
    allowed = client.get(reverse("admin:crm_store_add"))

    assert (refused.status_code, allowed.status_code) == (403, 200)
    assert not Store.objects.filter(code="NJ09").exists()


# --- 3. audit log ------------------------------------------------------------------------------


def test_a_manager_reads_only_the_audit_rows_of_their_stores_people(client, manager_b, advisor_a, store_b):
    advisor_b = UserFactory(username="advisor_b", role=Role.SERVICE_ADVISOR, stores=[store_b])
    AuditLog.objects.create(actor=advisor_a, action=AuditAction.EXPORT, object_type="a")
    own = AuditLog.objects.create(actor=advisor_b, action=AuditAction.EXPORT, object_type="b")
    other = AuditLog.objects.create(actor=advisor_a, action=AuditAction.EXPORT, object_type="c")
    client.force_login(staff(manager_b))

    listing = client.get(reverse("admin:crm_auditlog_changelist"))

    assert [entry.pk for entry in listing.context["cl"].result_list] == [own.pk]
    assert client.get(reverse("admin:crm_auditlog_change", args=[other.pk])).status_code == 404


def test_the_audit_log_is_read_only_even_for_a_superuser(client, advisor_a):
    entry = AuditLog.objects.create(actor=advisor_a, action=AuditAction.EXPORT)
    root = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    client.force_login(root)

    deleted = client.post(reverse("admin:crm_auditlog_delete", args=[entry.pk]), {"post": "yes"})
    changed = client.post(reverse("admin:crm_auditlog_change", args=[entry.pk]), {"action": "import"})
    added = client.get(reverse("admin:crm_auditlog_add"))

    assert (deleted.status_code, changed.status_code, added.status_code) == (403, 403, 403)
    entry.refresh_from_db()
    assert entry.action == AuditAction.EXPORT


# --- 4. staff: nobody grants what they do not hold ---------------------------------------------


def _own_form_data(client, user) -> dict:
    form = client.get(reverse("admin:crm_user_change", args=[user.pk])).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value not in (None, False)}
    data["groups"] = [group.pk for group in user.groups.all()]
    data["stores"] = [store.pk for store in user.stores.all()]
    data["user_permissions"] = []
    data.pop("password", None)
    for name in ("last_login", "date_joined"):
        data.pop(name, None)
    data["date_joined_0"], data["date_joined_1"] = "2026-01-01", "08:00:00"
    return data


def test_a_one_store_admin_cannot_make_himself_superuser_or_group_wide(client, admin_b, store_a, store_b):
    client.force_login(admin_b)
    data = _own_form_data(client, admin_b)
    data.update(is_superuser="on", sees_all_stores="on")

    response = client.post(reverse("admin:crm_user_change", args=[admin_b.pk]), data)

    assert response.status_code == 302
    admin_b.refresh_from_db()
    assert (admin_b.is_superuser, admin_b.sees_all_stores) == (False, False)
    assert list(admin_b.stores.all()) == [store_b]


def test_a_one_store_admin_cannot_give_a_store_a_role_or_a_permission_he_does_not_hold(client, admin_b, store_a):
    mighty = Group.objects.create(name="mighty")
    mighty.permissions.add(Permission.objects.get(codename="delete_user"))
    client.force_login(admin_b)
    url = reverse("admin:crm_user_change", args=[admin_b.pk])

    for field, value in [("stores", [store_a.pk]), ("groups", [mighty.pk]),
                         ("user_permissions", [Permission.objects.get(codename="delete_user").pk])]:  # fmt: skip
        data = _own_form_data(client, admin_b)
        data[field] = value
        response = client.post(url, data)
        assert response.status_code == 200, field
        assert field in response.context["adminform"].form.errors

    admin_b.refresh_from_db()
    assert [store.code for store in admin_b.stores.all()] == ["NJ02"]
    assert [group.name for group in admin_b.groups.all()] == ["admin"]
    assert admin_b.user_permissions.count() == 0


def test_staff_of_another_store_are_invisible_to_a_one_store_admin(client, admin_b, manager_a, store_a, store_b):
    both = UserFactory(username="both", role=Role.MANAGER, stores=[store_a, store_b])
    root = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    root.stores.set([store_b])
    manager_b = UserFactory(username="manager_b", role=Role.MANAGER, stores=[store_b])
    client.force_login(admin_b)

    listing = client.get(reverse("admin:crm_user_changelist"))

    assert sorted(user.username for user in listing.context["cl"].result_list) == ["admin_b", "manager_b"]
    for user in (manager_a, both, root):
        change = client.get(reverse("admin:crm_user_change", args=[user.pk]))
        password = client.post(reverse("admin:auth_user_password_change", args=[user.pk]),
                               {"password1": "Taken-over-123", "password2": "Taken-over-123"})  # fmt: skip
        assert (change.status_code, password.status_code) == (404, 404), user.username
        user.refresh_from_db()
        assert user.check_password("Taken-over-123") is False
    assert client.get(reverse("admin:crm_user_change", args=[manager_b.pk])).status_code == 200


def test_a_one_store_admin_cannot_take_over_someone_holding_more(client, admin_b, store_b):
    stronger = UserFactory(username="stronger", stores=[store_b])
    stronger.user_permissions.add(Permission.objects.get(codename="delete_user"))
    client.force_login(admin_b)
    url = reverse("admin:auth_user_password_change", args=[stronger.pk])

    response = client.post(url, {"password1": "Taken-over-123", "password2": "Taken-over-123"})

    assert response.status_code == 403
    stronger.refresh_from_db()
    assert stronger.check_password("Taken-over-123") is False


def test_a_one_store_admin_adds_staff_to_his_store_only(client, admin_b, store_a, store_b):
    client.force_login(admin_b)
    data = {"username": "new_advisor", "password1": "Strong-pass-123", "password2": "Strong-pass-123",
            "usable_password": "true"}  # fmt: skip

    no_store = client.post(reverse("admin:crm_user_add"), data)
    other_store = client.post(reverse("admin:crm_user_add"), {**data, "stores": [store_a.pk]})
    own_store = client.post(reverse("admin:crm_user_add"), {**data, "stores": [store_b.pk]})

    assert (no_store.status_code, other_store.status_code, own_store.status_code) == (200, 200, 302)
    assert [store.code for store in User.objects.get(username="new_advisor").stores.all()] == ["NJ02"]


# --- 5. segments without a store ---------------------------------------------------------------


def test_a_segment_without_a_store_is_the_groups(client, manager_a, admin_user):
    group_segment = Segment.objects.create(name="集团", definition={})
    client.force_login(manager_a)

    detail = client.get(reverse("customers:segment_detail", args=[group_segment.pk]))
    edit = client.post(reverse("customers:segment_edit", args=[group_segment.pk]), {"name": "改了"})
    listing = client.get(reverse("customers:segment_list"))
    create = client.post(reverse("customers:segment_create"), {"name": "无门店"})

    assert (detail.status_code, edit.status_code, create.status_code) == (404, 404, 200)
    assert "store" in create.context["form"].errors
    assert list(listing.context["page"].object_list) == []
    assert sorted(Segment.objects.values_list("name", flat=True)) == ["集团"]
    client.force_login(admin_user)
    assert client.get(reverse("customers:segment_detail", args=[group_segment.pk])).status_code == 200
    assert client.post(reverse("customers:segment_create"), {"name": "全集团"}).status_code == 302


def test_a_one_store_admin_cannot_edit_a_group_segment_in_the_admin(client, admin_b):
    group_segment = Segment.objects.create(name="集团", definition={})
    client.force_login(admin_b)

    url = reverse("admin:customers_segment_change", args=[group_segment.pk])
    response = client.post(url, {"name": "改了"})
    added = client.post(reverse("admin:customers_segment_add"), {"name": "无门店"})

    assert (response.status_code, added.status_code) == (404, 200)
    assert "store" in added.context["adminform"].form.errors
    assert list(Segment.objects.values_list("name", flat=True)) == ["集团"]


# --- 6. every other admin ----------------------------------------------------------------------


@pytest.fixture
def sms_a(store_a):
    customer = CustomerFactory(store=store_a, customer_no="S0001", mobile="13700001111")
    message = SmsMessage.objects.create(store=store_a, customer=customer, mobile="13700001111", code="birthday",
                                        send_date=datetime.date(2026, 11, 1), body="生日快乐",
                                        idempotency_key="k1")  # fmt: skip
    reply = InboundSms.objects.create(mobile="13700001111", text="好", received_at=timezone.now(), customer=customer)
    return message, reply


def test_sms_lists_mask_numbers_and_staff_without_the_permission_cannot_search_digits(client, store_a, sms_a):
    clerk = clerk_of(store_a, "view_smsmessage", "view_inboundsms")
    client.force_login(clerk)

    for url_name in ("admin:followups_smsmessage_changelist", "admin:followups_inboundsms_changelist"):
        listing = client.get(reverse(url_name)).content.decode()
        assert "137****1111" in listing
        assert "13700001111" not in listing
        # The digits of the number find nothing more than digits that are not in it.
        found = client.get(reverse(url_name), {"q": "0001111"}).context["cl"].result_list
        not_found = client.get(reverse(url_name), {"q": "5555555"}).context["cl"].result_list
        assert list(found) == list(not_found), url_name
    for obj in sms_a:
        page = client.get(reverse(f"admin:followups_{obj._meta.model_name}_change", args=[obj.pk])).content.decode()
        assert "137****1111" in page
        assert "13700001111" not in page
    assert reveals() == 0


def test_an_sms_page_shows_the_number_to_a_manager_and_logs_it(client, manager_a, sms_a):
    message, _reply = sms_a
    client.force_login(staff(manager_a))

    page = client.get(reverse("admin:followups_smsmessage_change", args=[message.pk])).content.decode()

    assert "13700001111" in page
    entry = AuditLog.objects.get(action=AuditAction.VIEW_UNMASKED_PHONE)
    assert (entry.actor, entry.object_type, entry.object_ids) == (manager_a, "followups.smsmessage", [str(message.pk)])


def test_follow_up_records_of_another_store_are_a_404_and_read_only(client, manager_b, store_a, sms_a):
    message, reply = sms_a
    attempt = CallAttemptFactory(task=FollowupTaskFactory(store=store_a))
    client.force_login(staff(manager_b))

    for obj in (message, reply, attempt, attempt.task):
        url = reverse(f"admin:followups_{obj._meta.model_name}_change", args=[obj.pk])
        assert client.get(url).status_code == 404, obj._meta.model_name
    client.force_login(staff(UserFactory(username="root", is_superuser=True)))
    response = client.post(reverse("admin:followups_callattempt_change", args=[attempt.pk]), {"outcome": "no_answer"})
    assert response.status_code == 403
    assert CallAttempt.objects.get().outcome == "reached"


def test_a_rule_cannot_be_added_for_another_store(client, admin_b, store_a, store_b):
    client.force_login(admin_b)
    form = client.get(reverse("admin:followups_followuprule_add")).context["adminform"].form

    assert list(form.fields["store"].queryset) == [store_b]
    response = client.post(reverse("admin:followups_followuprule_add"), {"store": store_a.pk, "code": "birthday"})
    assert "store" in response.context["adminform"].form.errors
    assert FollowupRule.objects.count() == 0


def test_a_store_setting_cannot_name_another_stores_manager(client, admin_user, admin_b, manager_a, store_b):
    settings_b = StoreComplaintSettings.objects.create(store=store_b)
    client.force_login(admin_b)
    url = reverse("admin:complaints_storecomplaintsettings_change", args=[settings_b.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(store=store_b.pk, sales_manager=manager_a.pk, business_day_start="08:30", business_day_end="18:00")

    response = client.post(url, data)

    assert response.status_code == 200
    assert "sales_manager" in response.context["adminform"].form.errors
    settings_b.refresh_from_db()
    assert settings_b.sales_manager is None


def test_a_vehicle_cannot_be_given_to_another_stores_customer(client, admin_b, store_a, store_b):
    foreign = CustomerFactory(store=store_a, customer_no="F0001")
    client.force_login(admin_b)

    response = client.post(reverse("admin:customers_vehicle_add"),
                           {"vin": "LGBH52E0000000999", "customer": foreign.pk, "store": store_b.pk})  # fmt: skip

    assert "customer" in response.context["adminform"].form.errors
    assert not Vehicle.objects.filter(vin="LGBH52E0000000999").exists()


def test_store_filters_list_only_the_users_stores(client, manager_b, store_a, store_b):
    store_c = Store.objects.create(code="NJ03", name="六合店")
    manager_b.stores.add(store_c)
    for store in (store_a, store_b, store_c):
        rules_for(store)
    client.force_login(staff(manager_b))

    response = client.get(reverse("admin:followups_followuprule_changelist"))

    store_filter = next(spec for spec in response.context["cl"].filter_specs if spec.field_path == "store")
    assert sorted(label for _pk, label in store_filter.lookup_choices) == sorted([str(store_b), str(store_c)])
    assert "江宁店" not in response.content.decode()


def test_group_wide_settings_are_changed_only_by_group_wide_staff(client, admin_b, manager_b, admin_user):
    complaint_type = ComplaintTypeFactory(name="服务态度")
    day = CalendarDay.objects.create(date=datetime.date(2026, 10, 1), kind="holiday", name="国庆节")
    client.force_login(admin_b)
    type_post = client.post(reverse("admin:complaints_complainttype_change", args=[complaint_type.pk]),
                            {"name": "改了", "department": "service", "sort_order": 1})  # fmt: skip
    client.force_login(staff(manager_b))
    day_post = client.post(reverse("admin:crm_calendarday_change", args=[day.pk]),
                           {"date": "2026-10-02", "kind": "holiday", "name": "国庆节"})  # fmt: skip

    assert (type_post.status_code, day_post.status_code) == (403, 403)
    complaint_type.refresh_from_db()
    day.refresh_from_db()
    assert (complaint_type.name, day.date) == ("服务态度", datetime.date(2026, 10, 1))
    client.force_login(admin_user)
    assert client.get(reverse("admin:crm_calendarday_change", args=[day.pk])).context["has_change_permission"]


def test_other_stores_cards_are_a_404_in_the_customer_admin(client, store_b, card_a):
    client.force_login(clerk_of(store_b, "view_customer", "change_customer", "delete_customer"))

    change = client.get(reverse("admin:customers_customer_change", args=[card_a.pk]))
    delete = client.post(reverse("admin:customers_customer_delete", args=[card_a.pk]), {"post": "yes"})

    assert (change.status_code, delete.status_code) == (404, 404)
    assert Customer.objects.filter(pk=card_a.pk).exists()


# --- 7. complaints are closed through complaint_close ------------------------------------------


def test_a_complaint_cannot_be_closed_in_the_admin(client, manager_a, store_a):
    complaint = ComplaintFactory(customer=CustomerFactory(store=store_a))
    client.force_login(staff(manager_a))
    url = reverse("admin:complaints_complaint_change", args=[complaint.pk])

    page = client.get(url)
    response = client.post(url, {"status": "closed", "closed_at_0": "2026-11-01", "closed_at_1": "10:00:00",
                                 "customer_confirmation": "satisfied"})  # fmt: skip

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert response.status_code == 403
    complaint.refresh_from_db()
    assert (complaint.status, complaint.closed_at) == ("open", None)
    assert Complaint.objects.count() == 1


def test_a_one_store_admin_gives_the_roles_of_his_store(client, admin_b, store_b):
    advisor_b = UserFactory(username="advisor_b", role=Role.SERVICE_ADVISOR, stores=[store_b])
    client.force_login(admin_b)

    form = client.get(reverse("admin:crm_user_change", args=[advisor_b.pk])).context["adminform"].form

    assert sorted(group.name for group in form.fields["groups"].queryset) == sorted(role.value for role in Role)
    assert "is_superuser" not in form.fields
    assert "sees_all_stores" not in form.fields


def test_the_autocomplete_of_a_relation_offers_only_the_users_cards(client, manager_b, store_a, store_b):
    CustomerFactory(store=store_a, customer_no="AC001", name="张三")
    CustomerFactory(store=store_b, customer_no="AC002", name="张四")
    client.force_login(staff(manager_b))

    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "complaints", "model_name": "complaint", "field_name": "customer", "term": "AC"},
    )

    assert response.status_code == 200
    assert [result["text"] for result in response.json()["results"]] == ["张四 (AC002)"]


def test_a_search_by_digits_in_the_admin_is_audited_and_a_card_search_is_not(client, manager_a, sms_a):
    client.force_login(staff(manager_a))

    found = client.get(reverse("admin:followups_smsmessage_changelist"), {"q": "0001111"})
    client.get(reverse("admin:customers_customer_changelist"), {"q": "S0001"})

    assert [message.mobile for message in found.context["cl"].result_list] == ["13700001111"]
    entry = AuditLog.objects.get(action=AuditAction.VIEW_UNMASKED_PHONE)
    assert (entry.actor, entry.object_type, entry.detail["search"]) == (manager_a, "followups.smsmessage", "0001111")


def test_the_sms_admin_list_costs_the_same_queries_for_one_message_or_many(client, manager_a, store_a, sms_a):
    client.force_login(staff(manager_a))
    url = reverse("admin:followups_smsmessage_changelist")
    client.get(url)  # the session and the content types, loaded once
    customer = sms_a[0].customer
    counts = []
    for batch in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
        SmsMessage.objects.bulk_create(
            SmsMessage(store=store_a, customer=customer, mobile="13700001111", code="birthday", body="x",
                       send_date=datetime.date(2026, 11, 2), idempotency_key=f"k{batch}-{index}")
            for index in range(5)
        )  # fmt: skip

    assert counts == [6, 6]  # 5 + the manager's verified TOTP device


def test_every_admin_of_the_project_uses_the_shared_scoped_base():
    from django.contrib import admin
    from simple_history.admin import SimpleHistoryAdmin

    from crm.admin import AuditLogAdmin, UserAdmin
    from crm.admin_base import GroupWideModelAdmin, ScopedSimpleHistoryAdmin, StoreScopedModelAdmin

    project_apps = {"crm", "customers", "followups", "complaints", "clubs"}
    unscoped = sorted(
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in project_apps
        and not isinstance(model_admin, StoreScopedModelAdmin | GroupWideModelAdmin | UserAdmin | AuditLogAdmin)
    )
    unscoped_history = sorted(
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, SimpleHistoryAdmin) and not isinstance(model_admin, ScopedSimpleHistoryAdmin)
    )

    assert (unscoped, unscoped_history) == ([], [])


def test_a_card_naming_staff_outside_the_store_is_saved_without_losing_them(client, manager_a, admin_user, store_a):
    group_director = UserFactory(username="director", sees_all_stores=True)
    card = CustomerFactory(store=store_a, customer_no="T0001", confidentiality=Confidentiality.TOP_SECRET)
    card.authorized_staff.set([manager_a, group_director])
    client.force_login(staff(manager_a))
    url = reverse("admin:customers_customer_change", args=[card.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(name="改名", authorized_staff=[manager_a.pk, group_director.pk], store=store_a.pk)
    outsider = UserFactory(username="outsider", stores=[StoreFactory(code="NJ05")])

    saved = client.post(url, data)
    refused = client.post(url, {**data, "authorized_staff": [manager_a.pk, outsider.pk]})

    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else ""
    assert "authorized_staff" in refused.context["adminform"].form.errors
    card.refresh_from_db()
    assert card.name == "改名"
    assert sorted(user.username for user in card.authorized_staff.all()) == ["director", "manager_a"]


def test_a_stores_settings_are_not_moved_to_another_of_the_users_stores(client, admin_user, store_a, store_b):
    settings_a = StoreComplaintSettings.objects.create(store=store_a)
    client.force_login(admin_user)
    url = reverse("admin:complaints_storecomplaintsettings_change", args=[settings_a.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(store=store_b.pk, response_minutes=30, business_day_start="08:30", business_day_end="18:00")

    response = client.post(url, data)

    assert response.status_code == 302
    settings_a.refresh_from_db()
    assert (settings_a.store, settings_a.response_minutes) == (store_a, 30)

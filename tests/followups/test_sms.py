import datetime
import json
import threading
import zoneinfo
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from followups.gateways import FileGateway, HttpGateway
from followups.models import FollowupTask, InboundSms, SmsMessage
from followups.services import followups_generate_day, sms_inbound_receive, sms_send_batch
from tests.factories import CustomerFactory, UserFactory, VehicleFactory
from tests.followups.factories import rules_for

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D = datetime.date
AT_TEN = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def gateway(tmp_path, settings):
    settings.SMS_FILE_GATEWAY_DIR = str(tmp_path)
    return FileGateway(tmp_path)


def sent_lines(gateway):
    return [json.loads(line) for line in gateway.path.read_text(encoding="utf-8").splitlines()]


def birthday_customer(store, **fields):
    fields.setdefault("birthday", D(1990, 11, 28))
    return CustomerFactory(store=store, **fields)


def test_a_batch_sends_one_message_per_task_with_signature_and_opt_out_text(store_a, gateway):
    customer = birthday_customer(store_a, name="韩梅梅", mobile="13900001111")
    followups_generate_day(day=D(2026, 11, 22), store_ids=[store_a.pk])

    first = sms_send_batch(store_id=store_a.pk, day=D(2026, 11, 22), now=AT_TEN, gateway=gateway)
    second = sms_send_batch(store_id=store_a.pk, day=D(2026, 11, 22), now=AT_TEN, gateway=gateway)

    assert (first["prepared"], first["sent"], second["prepared"], second["sent"]) == (1, 1, 0, 0)
    message = SmsMessage.objects.get()
    assert (
        message.body
        == "【江宁日产】尊敬的韩梅梅：祝您生日快乐、事业成功、天天开心、出入平安！生日当天回店享会员专属优惠。回T退订"
    )
    assert (message.status, message.mobile, message.idempotency_key) == (
        "sent",
        "13900001111",
        f"task-{message.task_id}",
    )
    assert [line["key"] for line in sent_lines(gateway)] == [message.idempotency_key]
    assert FollowupTask.objects.get(customer=customer).status == "done"


def test_template_fields_are_filled(store_a, gateway):
    rules_for(store_a, insurance_renewal={"channel": "sms"})
    car = VehicleFactory(customer__store=store_a, store=store_a, insurance_expiry=D(2027, 1, 6), plate_no="苏A12345")
    followups_generate_day(day=D(2026, 11, 22), store_ids=[store_a.pk])

    sms_send_batch(store_id=store_a.pk, day=D(2026, 11, 22), now=AT_TEN, gateway=gateway)

    assert SmsMessage.objects.get().body == (
        f"【江宁日产】尊敬的{car.customer.name}：您爱车苏A12345的保险将于2027年1月6日到期，"
        "请带齐行驶证、保险卡到本店办理续保。回T退订"
    )


def test_nothing_is_sent_outside_09_to_20(store_a, gateway):
    birthday_customer(store_a)
    followups_generate_day(day=D(2026, 11, 22), store_ids=[store_a.pk])

    for hour, minute in ((8, 59), (20, 0), (23, 0)):
        at = datetime.datetime(2026, 11, 22, hour, minute, tzinfo=SHANGHAI)
        assert sms_send_batch(store_id=store_a.pk, day=D(2026, 11, 22), now=at, gateway=gateway) == {
            "outside_window": 1
        }
    assert SmsMessage.objects.count() == 0
    assert sms_send_batch(store_id=store_a.pk, day=D(2026, 11, 22), now=AT_TEN, gateway=gateway)["sent"] == 1


def test_a_customer_who_opted_out_after_generation_gets_nothing(store_a, gateway):
    customer = birthday_customer(store_a)
    followups_generate_day(day=D(2026, 11, 22), store_ids=[store_a.pk])
    customer.sms_opt_out = True
    customer.save()

    sms_send_batch(store_id=store_a.pk, day=D(2026, 11, 22), now=AT_TEN, gateway=gateway)

    assert SmsMessage.objects.count() == 0
    assert FollowupTask.objects.get(customer=customer).status == "closed"


def test_a_message_left_sending_by_a_crash_is_resent_once_and_recognised(store_a, gateway, settings):
    settings.SMS_SEND_LEASE_SECONDS = 60
    birthday_customer(store_a)
    followups_generate_day(day=D(2026, 11, 22), store_ids=[store_a.pk])
    sms_send_batch(store_id=store_a.pk, day=D(2026, 11, 22), now=AT_TEN, gateway=gateway)
    # The worker died after the gateway took the message but before it was marked sent.
    SmsMessage.objects.update(status="sending", lease_until=AT_TEN + datetime.timedelta(seconds=60))

    during_lease = sms_send_batch(store_id=store_a.pk, day=D(2026, 11, 22), now=AT_TEN, gateway=gateway)
    after_lease = sms_send_batch(
        store_id=store_a.pk, day=D(2026, 11, 22), now=AT_TEN + datetime.timedelta(minutes=2), gateway=gateway
    )

    assert (during_lease["sent"], during_lease["duplicate"]) == (0, 0)
    assert after_lease["duplicate"] == 1
    assert SmsMessage.objects.get().status == "sent"
    assert len(sent_lines(gateway)) == 1


@pytest.mark.parametrize("text", ["T", "td", "ＴＤ", "退订", " t "])
def test_opt_out_replies_in_any_case_and_width(store_a, text):
    customer = CustomerFactory(store=store_a, mobile="13900002222")

    reply = sms_inbound_receive(mobile="13900002222", text=text)

    customer.refresh_from_db()
    assert (reply.action, customer.sms_opt_out, customer.sms_opt_out_source) == ("opt_out", True, "sms_reply")
    assert customer.sms_opt_out_at is not None


def _sent_message(store, customer, code):
    return SmsMessage.objects.create(
        idempotency_key=f"test-{code}", store=store, customer=customer, code=code, mobile=customer.mobile,
        body="…", send_date=D(2026, 11, 22), status="sent", sent_at=AT_TEN,
    )  # fmt: skip


def test_a_digit_after_a_repair_sms_is_satisfaction_and_feeds_the_dissatisfied_rule(store_a):
    customer = CustomerFactory(store=store_a, mobile="13900003333")
    _sent_message(store_a, customer, "post_repair_callback")

    reply = sms_inbound_receive(mobile="13900003333", text="２", received_at=AT_TEN + datetime.timedelta(hours=1))

    assert (reply.action, reply.satisfaction, reply.customer_id) == ("satisfaction", 2, customer.pk)
    made = followups_generate_day(day=D(2026, 12, 1), store_ids=[store_a.pk])
    assert made["dissatisfied_followup"] == 1


def test_y_after_an_event_invitation_is_an_rsvp_and_other_text_does_nothing(store_a):
    customer = CustomerFactory(store=store_a, mobile="13900004444")
    _sent_message(store_a, customer, "event_notice")

    assert sms_inbound_receive(mobile="13900004444", text="y", received_at=AT_TEN).action == "rsvp"
    assert sms_inbound_receive(mobile="13900004444", text="3", received_at=AT_TEN).action == "none"
    customer.refresh_from_db()
    assert customer.sms_opt_out is False


def test_the_inbound_endpoint_needs_the_token(client, store_a, settings):
    settings.SMS_INBOUND_TOKEN = "s3cret"
    customer = CustomerFactory(store=store_a, mobile="13900005555")
    url = reverse("followups:sms_inbound")

    assert client.post(url, {"mobile": "13900005555", "text": "TD"}).status_code == 403
    assert InboundSms.objects.count() == 0
    response = client.post(url, {"mobile": "13900005555", "text": "TD"}, headers={"X-Sms-Token": "s3cret"})

    assert response.json() == {"action": "opt_out", "customer": customer.pk}
    customer.refresh_from_db()
    assert customer.sms_opt_out is True


def test_delivery_reports_are_stored(client, store_a, settings):
    settings.SMS_INBOUND_TOKEN = "s3cret"
    message = _sent_message(store_a, CustomerFactory(store=store_a), "birthday")

    response = client.post(
        reverse("followups:sms_delivery"), {"key": message.idempotency_key, "delivered": "true"},
        headers={"X-Sms-Token": "s3cret"},
    )  # fmt: skip

    assert response.json() == {"updated": 1}
    message.refresh_from_db()
    assert message.delivery_status == "delivered"


def test_the_days_sms_list_as_csv_for_a_manager(client, manager_a, store_a, agent_a):
    birthday_customer(store_a, name="韩梅梅", mobile="13900001111", customer_no="C9")
    followups_generate_day(day=D(2026, 11, 22), store_ids=[store_a.pk])
    client.force_login(manager_a)

    response = client.get(reverse("followups:sms"), {"date": "2026-11-22", "format": "csv"})

    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").splitlines()
    # Chinese headers in the Chinese UI and the rule in words, as every staff download.
    assert lines == ["门店,回访规则,客户编号,姓名,手机,车牌号,内容", "NJ01,生日祝福,C9,韩梅梅,13900001111,,"]
    client.force_login(agent_a)
    assert client.get(reverse("followups:sms"), {"date": "2026-11-22", "format": "csv"}).status_code == 403


def test_the_sms_list_csv_follows_the_readers_language(client, manager_a, store_a):
    birthday_customer(store_a, name="韩梅梅", mobile="13900001111", customer_no="C9")
    followups_generate_day(day=D(2026, 11, 22), store_ids=[store_a.pk])
    client.force_login(manager_a)

    response = client.get(reverse("followups:sms"), {"date": "2026-11-22", "format": "csv"}, HTTP_ACCEPT_LANGUAGE="en")

    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines == [
        "Store,Rule,Customer no.,Name,Mobile,Plate,Text",
        "NJ01,Birthday greeting (生日祝福),C9,韩梅梅,13900001111,,",
    ]


def test_the_http_gateway_posts_the_key_to_the_provider():
    received = []

    class Provider(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((body, self.headers["Authorization"], self.headers["Idempotency-Key"]))
            answer = json.dumps({"message_id": "P-1"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Provider)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        gateway = HttpGateway(url=f"http://127.0.0.1:{server.server_port}/send", token="tok")
        result = gateway.send(key="task-1", mobile="13900001111", text="你好")
    finally:
        thread.join(timeout=10)
        server.server_close()

    assert result.message_id == "P-1"
    assert received == [({"key": "task-1", "mobile": "13900001111", "text": "你好"}, "Bearer tok", "task-1")]


@pytest.mark.parametrize("mobile", ["abc", "＋", "١٣٩٠٠٠٠٥٥٥٥"])
def test_an_inbound_reply_without_a_usable_mobile_is_a_clear_400(client, store_a, settings, mobile):
    settings.SMS_INBOUND_TOKEN = "s3cret"

    response = client.post(
        reverse("followups:sms_inbound"), {"mobile": mobile, "text": "TD"}, headers={"X-Sms-Token": "s3cret"}
    )

    assert response.status_code == 400
    # The provider gets the message in the CRM's language (zh-hans by default).
    assert response.json() == {"error": "手机号码中没有数字。"}
    assert InboundSms.objects.count() == 0


def test_the_csv_masks_the_mobile_for_a_user_without_the_unmask_permission(client, store_a):
    birthday_customer(store_a, name="韩梅梅", mobile="13900001111", customer_no="C9")
    followups_generate_day(day=D(2026, 11, 22), store_ids=[store_a.pk])
    clerk = UserFactory(username="sms_clerk", stores=[store_a])
    clerk.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="followups", codename__in=["view_smsmessage", "export_sms_list"]
        )
    )
    client.force_login(clerk)

    response = client.get(reverse("followups:sms"), {"date": "2026-11-22", "format": "csv"})

    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines == ["门店,回访规则,客户编号,姓名,手机,车牌号,内容", "NJ01,生日祝福,C9,韩梅梅,139****1111,,"]


def test_the_sms_list_searches_and_its_pages_keep_the_day(client, manager_a, store_a):
    birthday_customer(store_a, name="韩梅梅", mobile="13900001111", customer_no="C9")
    for number in range(50):
        birthday_customer(store_a, name=f"客户{number}", mobile=f"139000{number:05d}", customer_no=f"N{number:02d}")
    followups_generate_day(day=D(2026, 11, 22), store_ids=[store_a.pk])
    client.force_login(manager_a)

    found = client.get(reverse("followups:sms"), {"date": "2026-11-22", "q": "韩"})
    everyone = client.get(reverse("followups:sms"), {"date": "2026-11-22"})

    assert [task.customer.customer_no for task in found.context["page"].object_list] == ["C9"]
    assert everyone.context["page"].paginator.count == 51
    assert 'href="?date=2026-11-22&amp;q=&amp;page=2"' in everyone.content.decode()


def test_the_file_gateway_sees_what_another_process_sent_and_reads_only_what_is_new(tmp_path):
    first, second = FileGateway(tmp_path), FileGateway(tmp_path)  # two workers on one record

    assert first.send(key="k1", mobile="13900000001", text="a").duplicate is False
    assert second.send(key="k1", mobile="13900000001", text="a").duplicate is True
    assert second.send(key="k2", mobile="13900000002", text="b").duplicate is False
    with open(tmp_path / "sent.jsonl", "a", encoding="utf-8") as record:
        record.write('{"key": "k3", "mob')  # a line a crash cut short is not a sent message
    assert first.send(key="k2", mobile="13900000002", text="b").duplicate is True
    assert first.sent_keys() == {"k1", "k2"}
    (tmp_path / "sent.jsonl").write_text('{"key": "k9"}\n', encoding="utf-8")  # the record replaced
    assert first.sent_keys() == {"k9"}

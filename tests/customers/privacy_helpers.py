"""A customer with something in every place the CRM keeps personal data, for the export and
erasure tests: card, vehicle, repair order, note, consent, call, SMS, reply, complaint (with an
action and an attachment)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from complaints.models import ComplaintAction
from complaints.services import complaint_attachment_add
from customers.models import Customer, CustomerNote, RepairOrder, Vehicle
from customers.services import customer_consent_record, customer_save
from followups.models import CallAttempt, InboundSms, SmsMessage
from tests.complaints.factories import ComplaintFactory
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory
from tests.followups.factories import CallAttemptFactory, FollowupTaskFactory

VIN = "LGBH52E0000000417"


@dataclass
class Everything:
    customer: Customer
    vehicle: Vehicle
    order: RepairOrder
    note: CustomerNote
    call: CallAttempt
    sms: SmsMessage
    reply: InboundSms
    complaint: object
    attachment: object


def customer_with_everything(*, store, staff) -> Everything:
    customer = CustomerFactory(
        store=store, customer_no="CA0417", name="王芳", mobile="13955550417", landline="025-52100417",
        birthday=datetime.date(1985, 4, 17), employer="南京某公司", address="江宁区双龙大道1号",
        email="wangfang@example.com", interests="自驾游",
    )  # fmt: skip
    customer.employer = "南京某某公司"  # one change in the card's history, through the service
    customer_save(customer=customer, user=staff)
    vehicle = VehicleFactory(customer=customer, vin=VIN, plate_no="苏A0417X", series="天籁")
    order = RepairOrderFactory(vehicle=vehicle, ro_no="RO0417", total_amount=Decimal("880.00"))
    note = CustomerNote.objects.create(customer=customer, author=staff, text="客户说下月换新车")
    customer_consent_record(customer=customer, user=staff, purpose="marketing", is_granted=True, source="desk",
                            note="签字同意")  # fmt: skip
    task = FollowupTaskFactory(store=store, customer=customer, code="post_repair_callback")
    FollowupTaskFactory(store=store, customer=customer, code="birthday", channel="sms", status="done",
                        subject_date=datetime.date(2026, 4, 17))  # fmt: skip
    call = CallAttemptFactory(task=task, agent=staff, notes="客户抱怨等待时间长", answers={"1": "满意"})
    sms = SmsMessage.objects.create(
        task=None, idempotency_key="t-0417", store=store, customer=customer, code="birthday", mobile=customer.mobile,
        body="【江宁日产】尊敬的王芳：祝您生日快乐！回T退订", send_date=datetime.date(2026, 4, 11), status="sent",
        sent_at=timezone.now(),
    )  # fmt: skip
    reply = InboundSms.objects.create(mobile=customer.mobile, text="谢谢，王芳", received_at=timezone.now(),
                                      customer=customer, in_reply_to=sms)  # fmt: skip
    complaint = ComplaintFactory(customer=customer, vehicle=vehicle, description="王芳：保养后异响，电话13955550417")
    ComplaintAction.objects.create(
        complaint=complaint, kind="logged", note="王芳本人来电", actor=staff, at=timezone.now()
    )
    attachment = complaint_attachment_add(
        actor=staff, complaint=complaint,
        uploaded_file=SimpleUploadedFile("letter.png", b"\x89PNG....", content_type="image/png"),
    )  # fmt: skip
    return Everything(customer, vehicle, order, note, call, sms, reply, complaint, attachment)

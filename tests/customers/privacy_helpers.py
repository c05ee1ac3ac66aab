"""A customer with something in every place the CRM keeps personal data, for the export and
erasure tests: card, vehicle, repair order, note, consent, call, SMS, reply, complaint (with an
action and an attachment), satisfaction results, delivery interview, the prospect they were before
buying, a booking (cancelled), the club's membership with its ledgers, a referral of them and one
they made."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from clubs.models import Membership, PointsEntry, Referral, TierChange, WalletEntry
from complaints.models import ComplaintAction
from complaints.services import complaint_attachment_add
from customers.models import Appointment, Customer, CustomerNote, InterviewFactor, Prospect, RepairOrder, Vehicle
from customers.satisfaction import satisfaction_result_record
from customers.services import customer_consent_record, customer_save
from customers.services.appointments import appointment_cancel
from customers.services.interviews import delivery_interview_record, interview_factors_ensure
from customers.services.prospects import prospect_advance, prospect_create, prospects_win_for_vehicle
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
    interview: object
    prospect: Prospect
    appointment: Appointment
    membership: Membership
    referral: Referral
    referral_made: Referral


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
    # A reply from their mobile that no card was matched to.
    InboundSms.objects.create(mobile=customer.mobile, text="在吗？想改下周的预约", received_at=timezone.now())
    complaint = ComplaintFactory(customer=customer, vehicle=vehicle, description="王芳：保养后异响，电话13955550417")
    ComplaintAction.objects.create(
        complaint=complaint, kind="logged", note="王芳本人来电", actor=staff, at=timezone.now()
    )
    attachment = complaint_attachment_add(
        actor=staff, complaint=complaint,
        uploaded_file=SimpleUploadedFile("letter.png", b"\x89PNG....", content_type="image/png"),
    )  # fmt: skip
    # The desks: an SMS reply's result, the delivery interview (and its result), the prospect they
    # were before buying (lost once, back, won by the car's delivery), a booking cancelled.
    satisfaction_result_record(
        customer=customer, department="service", source="sms_reply", reference=f"inboundsms:{reply.pk}",
        at=timezone.now(), score=4, statement="短信回复：4 师傅很辛苦",
    )  # fmt: skip
    interview_factors_ensure(store=store)
    codes = InterviewFactor.objects.filter(store=store, is_active=True).values_list("code", flat=True)
    interview = delivery_interview_record(user=staff, vehicle=vehicle, scores=dict.fromkeys(codes, 4),
                                          comment="交车讲解很耐心")  # fmt: skip
    prospect = prospect_create(user=staff, store=store, name="王芳（展厅）", mobile=customer.mobile, source="showroom",
                               intended_model="天籁", notes="想要白色天籁，预算二十万",
                               recorded_on=datetime.date(2025, 1, 10))  # fmt: skip
    prospect_advance(user=staff, prospect=prospect, status="lost", lost_reason="price", lost_note="嫌贵去了别家")
    prospect_advance(user=staff, prospect=prospect, status="contacted")
    prospects_win_for_vehicle(vehicle_id=vehicle.pk)
    prospect.refresh_from_db()
    appointment = Appointment.objects.create(
        store=store, customer=customer, vehicle=vehicle, date=datetime.date(2026, 11, 23),
        slot=datetime.time(9, 0), purpose="maintenance", source="api", source_reference="wx-o6bmjrPTlm0417",
        notes="右后轮胎鼓包", created_by=staff,
    )  # fmt: skip
    appointment_cancel(user=staff, appointment=appointment, reason="出差改期")
    appointment.refresh_from_db()
    # The club: a membership with a manual tier change, a manual credit and a top-up; the referral
    # that brought them (by another owner) and one they made of someone else.
    membership = Membership.objects.create(customer=customer, store=store, card_no="M0417VIP",
                                           joined_on=datetime.date(2025, 3, 1), tier=2, points_balance=200,
                                           wallet_balance=Decimal("1000.00"))  # fmt: skip
    TierChange.objects.create(membership=membership, effective_on=datetime.date(2025, 6, 1), tier=2, kind="manual",
                              reason="大客户升级金卡", created_by=staff)  # fmt: skip
    PointsEntry.objects.create(membership=membership, kind="credit", on=datetime.date(2025, 6, 1), points=200,
                               expires_on=datetime.date(2026, 6, 1), note="生日加赠积分", created_by=staff)  # fmt: skip
    WalletEntry.objects.create(membership=membership, kind="topup", amount=Decimal("1000.00"),
                               balance_after=Decimal("1000.00"), reference="RC0417", note="现金储值收据",
                               created_by=staff)  # fmt: skip
    referrer = CustomerFactory(store=store, customer_no="CA0500", name="李雷")
    referral = Referral.objects.create(
        store=store, referrer=referrer, prospect_name="王芳（老李介绍）", prospect_mobile=customer.mobile,
        intended_model="天籁", referred_on=datetime.date(2025, 1, 5), stage="won", lost_reason="老李说她在比价",
        won_vehicle=vehicle, won_customer=customer, won_on=datetime.date(2025, 3, 1), recorded_by=staff,
    )  # fmt: skip
    referral_made = Referral.objects.create(store=store, referrer=customer, prospect_name="韩梅梅",
                                            prospect_mobile="13955550999", recorded_by=staff)  # fmt: skip
    return Everything(customer, vehicle, order, note, call, sms, reply, complaint, attachment, interview, prospect,
                      appointment, membership, referral, referral_made)  # fmt: skip

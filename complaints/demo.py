"""Demo complaints for `make run`: store settings routed to the demo manager, and a year of
complaints whose rate falls month by month (as in seed 004), a few of them open and overdue now."""

import datetime

from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from complaints.choices import ActionKind, Channel, Confirmation, Department, Severity, Status
from complaints.models import Complaint, ComplaintAction, ComplaintType, StoreComplaintSettings
from crm.calendar import add_months
from crm.demo import DemoContext
from customers.models import Customer, RepairOrder, Vehicle

DESCRIPTIONS = {
    Department.SERVICE: [
        "保养后发动机异响，客户要求复检",
        "维修等待时间超过预约时间两小时",
        "结算金额与报价不一致",
        "洗车不干净，内饰有油污",
        "更换配件后故障仍未排除",
        "服务顾问态度冷淡，未解释维修项目",
    ],
    Department.SALES: [
        "交车时承诺的精品未安装",
        "上牌进度慢，未按约定时间完成",
        "销售顾问承诺的优惠未兑现",
        "交车时车辆有划痕",
        "贷款手续费未提前告知",
    ],
}
CHANNEL_WEIGHTS = {
    Channel.SATISFACTION_CALLBACK: 35,
    Channel.PHONE: 20,
    Channel.IN_STORE: 15,
    Channel.HOTLINE_800: 10,
    Channel.STORE_LINE: 8,
    Channel.WECHAT: 7,
    Channel.SMS: 3,
    Channel.EMAIL: 2,
}
STAFF_NAMES = ["顾明", "沈浩", "陆婷", "许磊", "钱芳", "孙杰", "杨帆", "刘洋"]


def seed(*, context: DemoContext) -> None:
    rng, users = context.rng, context.users
    manager, admin = users["manager"], users["admin"]
    for code, store in context.stores.items():
        department_manager = manager if code == "NJ01" else admin
        StoreComplaintSettings.objects.update_or_create(
            store=store,
            defaults={
                "sales_manager": department_manager,
                "service_manager": department_manager,
                "general_manager": admin,
            },
        )
    types = list(ComplaintType.objects.filter(is_active=True))
    if not types:
        return
    customers = list(
        Customer.objects.filter(vehicles__isnull=False).select_related("store").distinct().order_by("pk")[:1500]
    )
    if not customers:
        return
    vehicles = {
        vehicle.customer_id: vehicle
        for vehicle in Vehicle.objects.filter(customer__in=customers).order_by("customer_id", "-pk")
    }
    routing = {
        row.store_id: row
        for row in StoreComplaintSettings.objects.select_related("sales_manager", "service_manager", "general_manager")
    }
    now = timezone.now()
    first_month = add_months(context.today.replace(day=1), -11)
    complaints, actions = [], []
    volumes = _monthly_volumes(first_month)
    for month_index in range(12):
        month = add_months(first_month, month_index)
        # The rate falls month by month, as in seed 004 (the demo stores are small, so its
        # percentages are higher than a real store's 0.2-1 %).
        rate = 0.06 - 0.045 * month_index / 11
        deliveries, repair_orders = volumes.get(month, (0, 0))
        for department, volume in [(Department.SALES, deliveries), (Department.SERVICE, repair_orders)]:
            for _ in range(round(volume * rate * rng.uniform(0.7, 1.3))):
                received = timezone.make_aware(
                    datetime.datetime.combine(month, datetime.time(8)) + datetime.timedelta(
                        days=rng.randint(0, 27), minutes=rng.randint(0, 11 * 60)
                    )
                )  # fmt: skip
                if received > now - datetime.timedelta(hours=2):
                    received = now - datetime.timedelta(hours=rng.randint(2, 20))
                complaints.append(
                    _complaint(rng, customers, vehicles, routing, types, received, now, department=department)
                )
    # Three fresh ones in the demo manager's store: one just in, one overdue for a response, one
    # overdue for closing.
    first_store = [customer for customer in customers if customer.store.code == "NJ01"] or customers
    for hours_ago, responded in [(0.2, False), (3, False), (30, True)]:
        received = now - datetime.timedelta(hours=hours_ago)
        complaint = _complaint(rng, first_store, vehicles, routing, types, received, now, keep_open=True)
        complaint.first_response_at = received + datetime.timedelta(minutes=40) if responded else None
        complaint.status = Status.IN_PROGRESS if responded else Status.OPEN
        complaints.append(complaint)
    Complaint.objects.bulk_create(complaints, batch_size=500)
    for complaint in complaints:
        actions.append(ComplaintAction(complaint=complaint, kind=ActionKind.LOGGED, at=complaint.received_at))
        if complaint.first_response_at:
            actions.append(
                ComplaintAction(
                    complaint=complaint,
                    kind=ActionKind.CONTACTED,
                    note="已致电客户了解情况",
                    actor=complaint.assigned_manager,
                    at=complaint.first_response_at,
                )
            )
        if complaint.closed_at:
            actions.append(
                ComplaintAction(
                    complaint=complaint,
                    kind=ActionKind.CLOSED,
                    note=complaint.get_customer_confirmation_display(),
                    actor=complaint.assigned_manager,
                    at=complaint.closed_at,
                )
            )
    ComplaintAction.objects.bulk_create(actions, batch_size=1000)
    context.counts["complaints"] = len(complaints)


def _complaint(
    rng, customers, vehicles, routing, types, received, now, *, keep_open=False, department=None
) -> Complaint:
    customer = rng.choice(customers)
    store = customer.store
    department = department or rng.choices([Department.SERVICE, Department.SALES], weights=[70, 30])[0]
    settings = routing[store.pk]
    response_minutes = rng.choices([rng.randint(5, 55), rng.randint(61, 180)], weights=[85, 15])[0]
    close_hours = rng.choices([rng.uniform(2, 23), rng.uniform(25, 60)], weights=[88, 12])[0]
    first_response = received + datetime.timedelta(minutes=response_minutes)
    closed = received + datetime.timedelta(hours=close_hours)
    is_closed = not keep_open and closed < now
    suitable = [kind for kind in types if kind.department in ("", department)]
    return Complaint(
        store=store,
        customer=customer,
        vehicle=vehicles.get(customer.pk),
        channel=rng.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0],
        department=department,
        complaint_type=rng.choice(suitable or types),
        severity=rng.choices(list(Severity), weights=[40, 40, 15, 5])[0],
        staff_concerned_name=rng.choice(STAFF_NAMES) if rng.random() < 0.7 else "",
        description=rng.choice(DESCRIPTIONS[department]),
        status=Status.CLOSED if is_closed else (Status.IN_PROGRESS if first_response < now else Status.OPEN),
        received_at=received,
        assigned_manager=settings.manager_for(department),
        response_due_at=received + datetime.timedelta(hours=1),
        close_due_at=received + datetime.timedelta(hours=24),
        first_response_at=first_response if first_response < now else None,
        closed_at=closed if is_closed else None,
        resolution="已向客户致歉并妥善处理" if is_closed else "",
        customer_confirmation=(
            rng.choices([Confirmation.SATISFIED, Confirmation.NOT_SATISFIED], weights=[90, 10])[0] if is_closed else ""
        ),
        notified_at=received,
    )


def _monthly_volumes(first_month: datetime.date) -> dict[datetime.date, tuple[int, int]]:
    """Deliveries and settled repair orders per month since ``first_month`` (the rates' denominators)."""
    deliveries = dict(
        Vehicle.objects.filter(delivery_date__gte=first_month)
        .annotate(month=TruncMonth("delivery_date"))
        .values_list("month")
        .annotate(count=Count("id"))
    )
    repair_orders = dict(
        RepairOrder.objects.filter(settle_date__gte=first_month)
        .annotate(month=TruncMonth("settle_date"))
        .values_list("month")
        .annotate(count=Count("id"))
    )
    return {
        month: (deliveries.get(month, 0), repair_orders.get(month, 0)) for month in set(deliveries) | set(repair_orders)
    }

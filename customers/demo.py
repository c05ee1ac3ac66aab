"""Demo owners, vehicles and five years of repair orders for the demo dealer group."""

import datetime
from decimal import Decimal

from crm.calendar import add_months
from crm.demo import DemoContext
from customers.choices import Confidentiality, RepairType
from customers.facts import customer_stats_refresh
from customers.models import Customer, RepairOrder, Vehicle
from customers.pinyin import name_search_keys

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤"
)
GIVEN_NAMES = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文辉玲红志鹏飞宇浩然欣怡子轩梓涵一诺雨泽俊思远晨曦佳琪"
)
DISTRICTS = ["江宁区", "玄武区", "秦淮区", "建邺区", "鼓楼区", "浦口区", "栖霞区", "雨花台区", "六合区", "溧水区"]
STREETS = ["天元东路", "双龙大道", "胜太路", "秣陵路", "中山北路", "汉中路", "江东中路", "应天大街", "龙蟠路", "宁六路"]
EMPLOYERS = ["南京钢铁集团", "苏宁易购", "南京银行", "江苏电力公司", "东南大学", "南京地铁", "个体经营", "江宁医院", ""]
TITLES = ["经理", "工程师", "教师", "医生", "职员", "主管", "个体户", "公务员", "销售", ""]
SOURCES = ["展厅", "电话", "网络", "转介绍", "车展", "老客户"]
TIERS = ["普通", "银卡", "金卡", "钻石", "终身VIP"]
COLORS = ["珍珠白", "曜石黑", "星空灰", "极光银", "魅影红", "深海蓝"]
INSURERS = ["中国人保", "平安保险", "太平洋保险", "中华联合", "大地保险"]
ADVISORS = ["顾明", "沈浩", "陆婷", "许磊", "钱芳", "孙杰"]
CONSULTANTS = ["沈浩", "杨帆", "刘洋", "吴静"]
MODELS = {
    "东风日产": ["轩逸", "骐达", "逍客", "奇骏", "天籁"],
    "北京现代": ["伊兰特", "悦动", "名图", "途胜", "领动"],
}
TRIMS = ["1.6L 自动舒适版", "1.6L CVT 智享版", "2.0L CVT 豪华版", "1.5T 智联旗舰版"]
VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
PLATE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def is_seeded(*, context: DemoContext) -> bool:
    """Whether the demo owners are there already: `seed_demo` then only refreshes the demo users."""
    return Customer.objects.filter(store=context.stores["NJ01"]).exists()


def seed(*, context: DemoContext) -> None:
    rng, today = context.rng, context.today
    store_list = list(context.stores.values())
    customers, vehicles_by_customer = [], {}
    for number in range(1, context.owners + 1):
        store = rng.choices(store_list, weights=[45, 30, 25][: len(store_list)])[0]
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_NAMES) for _ in range(rng.choice([1, 2])))
        pinyin, initials = name_search_keys(name)
        is_member = rng.random() < 0.6
        birthday = datetime.date(rng.randint(1960, 2002), rng.randint(1, 12), rng.randint(1, 28))
        customers.append(
            Customer(
                customer_no=f"C{store.code}{number:07d}",
                store=store,
                name=name,
                name_pinyin=pinyin,
                name_initials=initials,
                gender=rng.choice("MF"),
                birthday=birthday if rng.random() < 0.85 else None,
                mobile="1" + rng.choice("356789") + "".join(rng.choice("0123456789") for _ in range(9)),
                landline=f"025-{rng.randint(52000000, 86999999)}" if rng.random() < 0.15 else "",
                employer=rng.choice(EMPLOYERS),
                job_title=rng.choice(TITLES),
                province="江苏省",
                city="南京市",
                district=rng.choice(DISTRICTS),
                address=f"{rng.choice(STREETS)}{rng.randint(1, 999)}号",
                source=rng.choice(SOURCES),
                member_card_no=f"M{store.code}{number:07d}" if is_member else "",
                member_tier=rng.choices(TIERS, weights=[60, 20, 12, 6, 2])[0] if is_member else "",
                points_balance=rng.choice([0, rng.randint(100, 5000)]) if is_member else None,
                is_key_customer=rng.random() < 0.03,
                confidentiality=Confidentiality.NORMAL,
            )
        )
    Customer.objects.bulk_create(customers, batch_size=1000)

    vehicles, used_vins = [], set()
    for customer in customers:
        first_delivery = today - datetime.timedelta(days=rng.randint(0, 5 * 365))
        for index in range(rng.choices([1, 2, 3], weights=[85, 13, 2])[0]):
            delivery = first_delivery if index == 0 else today - datetime.timedelta(days=rng.randint(0, 5 * 365))
            vin = _unique_vin(rng, used_vins)
            vehicle = Vehicle(
                vin=vin,
                customer=customer,
                store=customer.store,
                plate_no="苏A" + "".join(rng.choice(PLATE_ALPHABET) for _ in range(5)),
                brand=customer.store.brand,
                series=rng.choice(MODELS.get(customer.store.brand, ["轩逸"])),
                model=rng.choice(TRIMS),
                color=rng.choice(COLORS),
                delivery_date=delivery,
                sales_consultant=rng.choice(CONSULTANTS),
                invoice_price=Decimal(rng.randint(90, 260) * 1000),
                warranty_end=add_months(delivery, 36),
                insurer=rng.choice(INSURERS),
                insurance_expiry=_next_anniversary(delivery, today - datetime.timedelta(days=30)),
                inspection_due=add_months(delivery, 72),
            )
            vehicles.append(vehicle)
            vehicles_by_customer.setdefault(customer.pk, []).append(vehicle)
    Vehicle.objects.bulk_create(vehicles, batch_size=1000)

    orders, order_number = [], 0
    for vehicle in vehicles:
        kilometres_per_day = rng.uniform(15, 80)
        loyal = rng.random() < 0.6
        visits_left = 99 if loyal else rng.randint(0, 3)
        open_date = vehicle.delivery_date + datetime.timedelta(days=rng.randint(60, 110))
        repair_type = RepairType.FIRST_SERVICE
        while visits_left > 0 and open_date <= today:
            order_number += 1
            settle_date = min(today, open_date + datetime.timedelta(days=rng.choice([0, 0, 0, 1, 2])))
            labour = Decimal(rng.randint(2, 16) * 50)
            parts = Decimal(rng.randint(0, 60) * 25)
            orders.append(
                RepairOrder(
                    ro_no=f"RO{vehicle.store.code}{order_number:08d}",
                    vehicle=vehicle,
                    store=vehicle.store,
                    open_date=open_date,
                    settle_date=settle_date,
                    repair_type=repair_type,
                    mileage=int((open_date - vehicle.delivery_date).days * kilometres_per_day),
                    service_advisor=rng.choice(ADVISORS),
                    labor_amount=labour,
                    parts_amount=parts,
                    total_amount=labour + parts,
                )
            )
            visits_left -= 1
            if rng.random() < 0.25:
                repair_type = rng.choice(
                    [RepairType.GENERAL_REPAIR, RepairType.BODY_AND_PAINT, RepairType.WARRANTY_CLAIM]
                )
                open_date += datetime.timedelta(days=rng.randint(20, 120))
            else:
                repair_type = rng.choice([RepairType.SCHEDULED_MAINTENANCE, RepairType.MAINTENANCE])
                open_date += datetime.timedelta(days=rng.randint(150, 220))
    RepairOrder.objects.bulk_create(orders, batch_size=2000)
    customer_stats_refresh(today=today)  # the segment facts, as an import leaves them
    context.counts.update(customers=len(customers), vehicles=len(vehicles), repair_orders=len(orders))


def _unique_vin(rng, used: set[str]) -> str:
    while True:
        vin = "LGB" + "".join(rng.choice(VIN_ALPHABET) for _ in range(14))
        if vin not in used:
            used.add(vin)
            return vin


def _next_anniversary(delivery: datetime.date, on_or_after: datetime.date) -> datetime.date:
    years = max(1, on_or_after.year - delivery.year)
    expiry = add_months(delivery, 12 * years)
    return expiry if expiry >= on_or_after else add_months(delivery, 12 * (years + 1))

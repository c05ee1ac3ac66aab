"""A synthetic DMS export in the reference format (docs/dms-import.md), for trying and benchmarking
the import without a dealership's data.

Three files, as a DMS writes them: ``customers``, ``vehicles`` and ``repair_orders`` (CSV, or XLSX
with ``xlsx=True``). The data is made up but shaped like a Nanjing dealer group's: Chinese names,
the city's districts, 苏A plates, VINs with a correct check digit, mainland mobiles, and repair
orders over the years since each delivery (first service, scheduled maintenance, repairs, body and
paint, warranty claims) with their mileage and amounts.

The same seed, ``today`` and options always give byte-identical files. Rows are written as they are
made, so memory stays flat however many customers are asked for.

With ``mess=True`` the files look like real exports (GBK unless another encoding is asked for; stray
spaces, full-width digits, phone and date spellings of every kind, lower-case VINs, ``NULL`` cells)
and hold a few rows the importer must reject and a few fields it must warn about; the returned
:class:`SampleOutcome` lists them with the importer's reasons, so that a test can check them.
"""

from __future__ import annotations

import csv
import datetime
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CUSTOMER_HEADER = (
    "客户编号", "客户姓名", "性别", "手机号码", "固定电话", "出生日期", "工作单位", "职务", "省份", "城市", "区县",
    "详细地址", "客户来源", "会员卡号", "会员等级", "积分余额", "建档日期", "所属门店",
)  # fmt: skip
VEHICLE_HEADER = (
    "VIN码", "车牌号", "品牌", "车系", "车型", "颜色", "客户编号", "交车日期", "销售顾问", "发票价格", "保修到期日",
    "保险公司", "保险到期日", "年检到期日", "所属门店",
)  # fmt: skip
REPAIR_ORDER_HEADER = (
    "工单号", "VIN码", "进厂日期", "结算日期", "维修类型", "进厂里程", "服务顾问", "工时费", "材料费", "结算金额",
    "所属门店",
)  # fmt: skip
FILES = {"customers": CUSTOMER_HEADER, "vehicles": VEHICLE_HEADER, "repair_orders": REPAIR_ORDER_HEADER}

# The importer's reasons (English msgids, as stored on each import issue).
REASON_MISSING_CUSTOMER_NO = "Missing customer number"
REASON_MISSING_RO_NO = "Missing repair order number"
REASON_UNKNOWN_STORE = "Unknown store code"
REASON_CONFLICTING_REPEAT = "The key appears more than once in this file with different data"
REASON_VIN_LETTERS = "A VIN must not contain the letters I, O or Q"
REASON_VIN_LENGTH = "A VIN must be 17 characters long"
REASON_UNKNOWN_CUSTOMER = "Unknown customer number (neither in this import nor in the CRM)"
REASON_UNKNOWN_VIN = "Unknown VIN (neither in this import nor in the CRM)"
WARNING_IMPOSSIBLE_DATE = "Impossible date"
WARNING_MOBILE = "Not a mainland mobile number"
WARNING_VIN_CHECK_DIGIT = "The VIN check digit (position 9) is wrong"
WARNING_WHOLE_NUMBER = "Not a whole number"

# The brands stores sell (see store_brand): (brand, world manufacturer identifier, series, model descriptor codes).
BRANDS = (
    ("东风日产", "LGB", ("轩逸", "骐达", "逍客", "奇骏", "天籁"), ("F4NB", "C2MA", "J1RE", "T3XA", "L5HB")),
    ("北京现代", "LBE", ("伊兰特", "悦动", "名图", "途胜", "领动"), ("SA4C", "DB2D", "LF3A", "TL1G", "AD5C")),
    ("上汽大众", "LSV", ("朗逸", "帕萨特", "途观L", "凌渡", "途岳"), ("AA2L", "CC8B", "DL4F", "GA3K", "EB7M")),
    ("广汽丰田", "LVG", ("凯美瑞", "雷凌", "致炫", "汉兰达", "威兰达"), ("BA1E", "CE2H", "XP3B", "DK5M", "HU6A")),
)
TRIMS = ("1.6L 手动舒适版", "1.6L CVT 智享版", "1.5T 自动豪华版", "2.0L CVT 旗舰版", "1.5L 混动尊贵版")
COLOURS = ("珍珠白", "曜石黑", "星空灰", "极光银", "魅影红", "深海蓝", "香槟金")
INSURERS = ("中国人保", "平安保险", "太平洋保险", "中华联合", "大地保险", "国寿财险")
SALES_CONSULTANTS = ("周杰", "林娜", "何磊", "郑婷", "宋强", "唐悦")
SERVICE_ADVISORS = ("顾明", "沈浩", "陆婷", "许磊", "钱芳", "孙杰", "陈晨", "杨帆")
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_NAMES = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文辉玲红志鹏飞宇浩然欣怡子轩梓涵诺雨泽俊思远晨曦佳琪"
# Nanjing's districts with a few of their streets.
DISTRICTS = (
    ("玄武区", ("中山路", "北京东路", "龙蟠路")),
    ("秦淮区", ("中华路", "龙蟠中路", "应天大街")),
    ("建邺区", ("江东中路", "河西大街", "庐山路")),
    ("鼓楼区", ("汉中路", "中山北路", "虎踞路")),
    ("浦口区", ("浦珠路", "江浦街道", "大桥北路")),
    ("栖霞区", ("仙林大道", "马群街道", "尧化门")),
    ("雨花台区", ("软件大道", "雨花西路", "宁丹路")),
    ("江宁区", ("天元中路", "双龙大道", "胜太路")),
    ("六合区", ("雄州路", "龙池街道", "长江路")),
    ("溧水区", ("珍珠南路", "永阳街道", "天生桥大道")),
    ("高淳区", ("淳溪街道", "宝塔路", "镇兴路")),
)
EMPLOYERS = ("南京银行", "苏宁易购", "南京地铁", "东南大学", "江苏省人民医院", "南钢集团", "个体经营", "", "")
JOB_TITLES = ("经理", "工程师", "教师", "医生", "职员", "主管", "个体户", "公务员", "", "")
SOURCES = ("展厅", "来电", "网络", "转介绍", "车展", "老客户")
MEMBER_TIERS = ("普通", "银卡", "金卡", "钻石", "终身VIP")
MEMBER_TIER_WEIGHTS = (60, 20, 12, 6, 2)
MOBILE_PREFIXES = (
    "130", "133", "135", "136", "138", "139", "150", "152", "158", "177", "180", "186", "187", "189", "199",
)  # fmt: skip
PLATE_CHARACTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
PLATE_DIGITS = "0123456789"

VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
VIN_VALUES = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# Model years from 2010 on: position 10 of a VIN (I, O, Q, U, Z and 0 are never used).
VIN_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"
VIN_PLANT_CODES = "ABCDEFGH"  # position 11: the plant; real vehicles' serials run per plant
VIN_PLANT_OF_STRAYS = "Z"  # the made-up VINs of rows that must be rejected: never a real vehicle's
VIN_SERIALS_PER_PLANT = 1_000_000

YEARS_OF_DELIVERIES = 6
MESS_INTERVAL_CUSTOMERS = 250  # with --mess, one bad row per file (and a few bad fields) per this many customers
MESS_EVENTS_AT_LEAST = 10


def vin_check_digit(vin: str) -> str:
    """The check digit (position 9) of a 17-character VIN, ISO 3779: ``0``–``9`` or ``X``."""
    remainder = sum(VIN_VALUES[character] * weight for character, weight in zip(vin, VIN_WEIGHTS, strict=True)) % 11
    return "X" if remainder == 10 else str(remainder)


def store_brand(code: str) -> tuple:
    """The brand a store sells, from its code alone: the same in every sample, and different for codes
    that differ only in their last character by less than four (NJ01 to NJ04), so that samples of
    such stores never share a VIN (the brand's manufacturer code starts every VIN)."""
    return BRANDS[sum(code.encode()) % len(BRANDS)]


def add_years(day: datetime.date, years: int) -> datetime.date:
    """The same day ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class SampleIssue:
    """A row the importer must reject, or a field it must warn about (the row is imported)."""

    file: str  # customers, vehicles or repair_orders
    row_number: int  # as the importer counts: the header is row 1
    reason: str  # the importer's reason (English msgid)


@dataclass
class SampleOutcome:
    """What was written: the keys the importer must create per file, and the planted problems."""

    paths: dict[str, Path] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FILES, 0))  # importable keys
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FILES, 0))  # data rows written
    rejections: list[SampleIssue] = field(default_factory=list)
    warnings: list[SampleIssue] = field(default_factory=list)

    def summary(self) -> str:
        keys = " ".join(f"{name}={count}" for name, count in self.keys.items())
        return f"{keys} rejected={len(self.rejections)} warnings={len(self.warnings)}"


class _Writer:
    """One output file: CSV in the chosen encoding (strict: a character the encoding lacks is an
    error, never a silent '?'), or an XLSX sheet written row by row."""

    def __init__(self, path: Path, header: Sequence[str], *, encoding: str, xlsx: bool):
        self.path = path
        self.rows = 0
        if xlsx:
            import openpyxl

            self.workbook = openpyxl.Workbook(write_only=True)
            self.sheet = self.workbook.create_sheet(path.stem)
            self.handle = None
            self.append = self.sheet.append
        else:
            self.workbook = None
            self.handle = open(path, "w", encoding=encoding, errors="strict", newline="")  # noqa: SIM115
            self.append = csv.writer(self.handle).writerow
        self.append(list(header))

    def write(self, row: Sequence[object]) -> int:
        """Write one data row; its row number as the importer counts (the header is row 1)."""
        self.append(row)
        self.rows += 1
        return self.rows + 1

    def close(self) -> None:
        if self.workbook is not None:
            self.workbook.save(self.path)
        if self.handle is not None:
            self.handle.close()


class _Spellings:
    """How each kind of value is written: plainly, or (mess) in the many ways real exports do."""

    def __init__(self, rng: random.Random, *, mess: bool, xlsx: bool):
        self.rng = rng
        self.mess = mess
        self.xlsx = xlsx

    def date(self, day: datetime.date | None) -> object:
        if day is None:
            return ""
        if not self.mess:
            return day if self.xlsx else day.isoformat()
        style = self.rng.random()
        if style < 0.6:
            return day if self.xlsx else day.isoformat()
        if style < 0.75:
            return f"{day.year}/{day.month}/{day.day}"
        if style < 0.85:
            return f"{day.year}{day.month:02d}{day.day:02d}"
        if style < 0.93:
            return f"{day.year}年{day.month}月{day.day}日"
        if style < 0.97:
            return f"{day.isoformat()} 00:00:00"
        return _full_width(day.isoformat())

    def mobile(self, number: str) -> str:
        if not self.mess:
            return number
        style = self.rng.random()
        if style < 0.75:
            return number
        if style < 0.83:
            return f"{number[:3]} {number[3:7]} {number[7:]}"
        if style < 0.89:
            return f"+86{number}"
        if style < 0.93:
            return f"{number[:3]}-{number[3:7]}-{number[7:]}"
        if style < 0.97:
            return _full_width(number)
        return f" {number} "

    def landline(self, local: str) -> str:
        if not self.mess:
            return f"025-{local}"
        return self.rng.choice((f"025-{local}", f"(025){local}", f"025 {local[:4]} {local[4:]}", f"025{local}"))

    def gender(self, gender: str) -> str:
        if not self.mess or self.rng.random() < 0.85:
            return gender
        return {"男": ("M", "1", "男性"), "女": ("F", "0", "女性")}[gender][self.rng.randrange(3)]

    def text(self, text: str) -> str:
        """A free-text cell, now and then with the spaces a DMS leaves around it; empty as NULL."""
        if not self.mess:
            return text
        if not text:
            return "NULL" if self.rng.random() < 0.2 else ""
        return f" {text} " if self.rng.random() < 0.05 else text

    def money(self, amount: int) -> object:
        if self.xlsx and not self.mess:
            return amount
        if not self.mess:
            return f"{amount}.00"
        style = self.rng.random()
        if style < 0.7:
            return f"{amount}.00"
        if style < 0.85:
            return f"{amount:,}.00"
        if style < 0.95:
            return str(amount)
        return f"{amount}元"

    def whole(self, number: int) -> object:
        if self.xlsx and not self.mess:
            return number
        if self.mess and self.rng.random() < 0.05:
            return _full_width(str(number))
        return str(number)

    def vin(self, vin: str) -> str:
        if not self.mess or self.rng.random() < 0.93:
            return vin
        return f" {vin.lower()} "


_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def _full_width(text: str) -> str:
    return text.translate(_FULL_WIDTH)


class _Sample:
    def __init__(self, *, customers: int, seed: int, today: datetime.date, stores: Sequence[str], mess: bool,
                 writers: dict[str, _Writer], xlsx: bool):  # fmt: skip
        self.customers = customers
        self.rng = random.Random(seed)
        self.random = self.rng.random
        self.today = today
        self.stores = [(code, store_brand(code)) for code in stores]
        self.mess = mess
        self.writers = writers
        self.spell = _Spellings(self.rng, mess=mess, xlsx=xlsx)
        self.outcome = SampleOutcome(paths={name: writer.path for name, writer in writers.items()})
        self.vehicle_serial = 0
        self.repair_order_serial = 0
        self.mess_events = 0
        interval = MESS_INTERVAL_CUSTOMERS
        if mess:
            interval = max(1, min(MESS_INTERVAL_CUSTOMERS, customers // MESS_EVENTS_AT_LEAST))
        self.mess_interval = interval

    # -- values ---------------------------------------------------------------------------------
    # random.Random's choice() and randint() take three Python calls each; these take one, which
    # counts over half a million repair orders.

    def pick(self, options: Sequence):
        return options[int(self.random() * len(options))]

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))

    def below(self, limit: int) -> int:
        return int(self.random() * limit)

    def name(self) -> str:
        rng = self.rng
        given = self.pick(GIVEN_NAMES) if rng.random() < 0.35 else self.pick(GIVEN_NAMES) + self.pick(GIVEN_NAMES)
        return self.pick(SURNAMES) + given

    def mobile_number(self) -> str:
        return f"{self.pick(MOBILE_PREFIXES)}{self.below(10**8):08d}"

    def vin(self, wmi: str, descriptor: str, year: int, serial: int, *, plant: str | None = None) -> str:
        plant = plant or VIN_PLANT_CODES[serial // VIN_SERIALS_PER_PLANT % len(VIN_PLANT_CODES)]
        body = f"{wmi}{descriptor}{self.pick(VIN_ALPHABET)}0{VIN_YEAR_CODES[(year - 2010) % 30]}{plant}"
        vin = f"{body}{serial % VIN_SERIALS_PER_PLANT:06d}"
        return vin[:8] + vin_check_digit(vin) + vin[9:]

    def plate(self) -> str:
        rng = self.rng
        if rng.random() < 0.15:  # a green new-energy plate: D or F and five digits
            return "苏A" + self.pick("DF") + "".join(rng.choices(PLATE_DIGITS, k=5))
        return "苏A" + "".join(rng.choices(PLATE_CHARACTERS, k=5))

    # -- rows -------------------------------------------------------------------------------------

    def run(self) -> SampleOutcome:
        for number in range(1, self.customers + 1):
            self.customer(number, mess_event=self.mess and number % self.mess_interval == 0)
        return self.outcome

    def customer(self, number: int, *, mess_event: bool) -> None:
        rng, spell, today = self.rng, self.spell, self.today
        store, brand = self.stores[self.below(len(self.stores))]
        customer_no = f"C{store}{number:07d}"
        gender = self.pick("男女")
        birthday = datetime.date(self.between(1955, 2004), 1, 1) + datetime.timedelta(days=self.below(365))
        first_delivery = today - datetime.timedelta(days=self.below(YEARS_OF_DELIVERIES * 365))
        district, streets = self.pick(DISTRICTS)
        is_member = rng.random() < 0.6
        mobile = spell.mobile(self.mobile_number()) if rng.random() < 0.97 else ""
        birthday_text = spell.date(birthday) if rng.random() < 0.85 else ""
        row = [
            spell.text(customer_no) if self.mess and rng.random() < 0.02 else customer_no,
            spell.text(self.name()),
            spell.gender(gender),
            mobile,
            spell.landline(f"{self.between(5, 8)}{self.below(10**7):07d}") if rng.random() < 0.15 else "",
            birthday_text,
            spell.text(self.pick(EMPLOYERS)),
            spell.text(self.pick(JOB_TITLES)),
            "江苏省",
            "南京市",
            spell.text(district),
            f"{district}{self.pick(streets)}{self.between(1, 999)}号",
            self.pick(SOURCES),
            f"M{store}{number:07d}" if is_member else "",
            rng.choices(MEMBER_TIERS, weights=MEMBER_TIER_WEIGHTS)[0] if is_member else "",
            spell.whole(self.pick((0, 0, self.between(1, 8000)))) if is_member else "",
            spell.date(first_delivery - datetime.timedelta(days=self.below(60))),
            store,
        ]
        writer = self.writers["customers"]
        if not mess_event:
            writer.write(row)
            self.outcome.keys["customers"] += 1
        else:
            self.mess_events += 1
            kind = self.mess_events % 4
            clean_row = list(row)
            if kind in (1, 2):  # a bad field: the row is imported with it empty, and a warning
                if kind == 1:
                    row[5], warning = f"{birthday.year}-02-30", WARNING_IMPOSSIBLE_DATE
                else:
                    row[3], warning = self.mobile_number()[:10], WARNING_MOBILE
                self.outcome.warnings.append(SampleIssue("customers", writer.rows + 2, warning))
            writer.write(row)
            self.outcome.keys["customers"] += 1
            self.bad_customer_rows(clean_row, store, kind)

        vehicles = rng.choices((1, 2, 3), weights=(82, 15, 3))[0]
        for index in range(vehicles):
            delivery = first_delivery if index == 0 else today - datetime.timedelta(
                days=self.below(YEARS_OF_DELIVERIES * 365)
            )  # fmt: skip
            self.vehicle(customer_no, store, brand, delivery, mess_event=mess_event and index == 0)
        if mess_event:
            self.bad_vehicle_rows(store, brand)
            self.bad_repair_order_rows(store, brand)

    def bad_customer_rows(self, row: list, store: str, kind: int) -> None:
        """After a real customer: one of a blank key, an unknown store, a key repeated with other data
        (both rows rejected), an exact repeat of the row just written (harmless)."""
        writer, number = self.writers["customers"], self.mess_events
        stray_no = f"X{store}{number:07d}"
        if kind == 0:
            self.reject("customers", writer.write(["", *row[1:]]), REASON_MISSING_CUSTOMER_NO)
        elif kind == 1:
            self.reject("customers", writer.write([stray_no, *row[1:-1], "ZZ99"]), REASON_UNKNOWN_STORE)
        elif kind == 2:
            for name in (self.name(), self.name() + "某"):
                self.reject("customers", writer.write([stray_no, name, *row[2:]]), REASON_CONFLICTING_REPEAT)
        else:
            writer.write(row)

    def bad_vehicle_rows(self, store: str, brand: tuple) -> None:
        """A malformed VIN, or a vehicle of a customer number nobody has."""
        writer, number = self.writers["vehicles"], self.mess_events
        brand_name, wmi, series, descriptors = brand
        vin = self.vin(wmi, descriptors[0], self.today.year, number, plant=VIN_PLANT_OF_STRAYS)
        row = [vin, self.plate(), brand_name, series[0], TRIMS[0], COLOURS[0], f"C{store}{number:07d}",
               self.today.isoformat(), SALES_CONSULTANTS[0], "150000", "", "", "", "", store]  # fmt: skip
        kind = number % 3
        if kind == 0:
            row[0] = vin[:16]
            self.reject("vehicles", writer.write(row), REASON_VIN_LENGTH)
        elif kind == 1:
            row[0] = vin[:3] + "O" + vin[4:]
            self.reject("vehicles", writer.write(row), REASON_VIN_LETTERS)
        else:
            row[6] = f"X{store}{number:07d}"
            self.reject("vehicles", writer.write(row), REASON_UNKNOWN_CUSTOMER)

    def bad_repair_order_rows(self, store: str, brand: tuple) -> None:
        """A repair order of a VIN nobody has, one without its number, or a number repeated with other
        amounts (both rows rejected)."""
        writer, number = self.writers["repair_orders"], self.mess_events
        _brand_name, wmi, _series, descriptors = brand
        stray_vin = self.vin(wmi, descriptors[1], self.today.year, number, plant=VIN_PLANT_OF_STRAYS)
        day = self.today.isoformat()
        ro_no = f"RX{store}{number:08d}"
        kind = number % 3
        if kind == 0:
            row = [ro_no, stray_vin, day, day, "保养", "5000", SERVICE_ADVISORS[0], "200.00", "300.00", "500.00", store]
            self.reject("repair_orders", writer.write(row), REASON_UNKNOWN_VIN)
        elif kind == 1:
            row = ["", stray_vin, day, day, "保养", "5000", SERVICE_ADVISORS[0], "200.00", "300.00", "500.00", store]
            self.reject("repair_orders", writer.write(row), REASON_MISSING_RO_NO)
        else:
            for labour in (200, 260):
                row = [ro_no, stray_vin, day, day, "保养", "5000", SERVICE_ADVISORS[0], f"{labour}.00", "300.00",
                       f"{labour + 300}.00", store]  # fmt: skip
                self.reject("repair_orders", writer.write(row), REASON_CONFLICTING_REPEAT)

    def reject(self, file: str, row_number: int, reason: str) -> None:
        self.outcome.rejections.append(SampleIssue(file, row_number, reason))

    def vehicle(self, customer_no: str, store: str, brand: tuple, delivery: datetime.date, *, mess_event: bool) -> None:
        rng, spell, today = self.rng, self.spell, self.today
        brand_name, wmi, series, descriptors = brand
        model = self.below(len(series))
        self.vehicle_serial += 1
        vin = self.vin(wmi, descriptors[model], delivery.year, self.vehicle_serial)
        warning = None
        if mess_event:  # a VIN with a wrong check digit: imported, with a warning wherever it appears
            wrong = "X" if vin[8] != "X" else "0"
            vin, warning = vin[:8] + wrong + vin[9:], WARNING_VIN_CHECK_DIGIT
        insurance = add_years(delivery, max(1, today.year - delivery.year))
        if insurance < today - datetime.timedelta(days=60):
            insurance = add_years(insurance, 1)
        price = self.between(90, 320) * 1000
        row = [
            spell.vin(vin),
            self.plate(),
            brand_name,
            series[model],
            self.pick(TRIMS),
            self.pick(COLOURS),
            customer_no,
            spell.date(delivery),
            self.pick(SALES_CONSULTANTS),
            spell.money(price),
            spell.date(add_years(delivery, 3)) if rng.random() < 0.6 else "",
            self.pick(INSURERS) if rng.random() < 0.8 else "",
            spell.date(insurance) if rng.random() < 0.8 else "",
            spell.date(add_years(delivery, 6)),
            "" if self.mess and rng.random() < 0.05 else store,  # blank: the owner's store
        ]
        row_number = self.writers["vehicles"].write(row)
        self.outcome.keys["vehicles"] += 1
        if warning:
            self.outcome.warnings.append(SampleIssue("vehicles", row_number, warning))
        self.repair_orders(vin, store, delivery, warning=warning, mileage_warning=mess_event)

    def repair_orders(self, vin: str, store: str, delivery: datetime.date, *, warning: str | None,
                      mileage_warning: bool) -> None:  # fmt: skip
        """The vehicle's visits since delivery: the first service, then maintenance twice a year and
        now and then a repair, until the owner drifts away (or never, or not at all)."""
        rng, spell, today = self.rng, self.spell, self.today
        habit = rng.random()
        visits_left = 10**6 if habit < 0.55 else self.between(1, 3) if habit < 0.9 else 0
        kilometres_a_day = rng.uniform(15, 90)
        opened = delivery + datetime.timedelta(days=self.between(60, 120))
        repair_type = "首保"
        writer = self.writers["repair_orders"]
        while visits_left > 0 and opened <= today:
            visits_left -= 1
            self.repair_order_serial += 1
            settled = min(today, opened + datetime.timedelta(days=self.pick((0, 0, 0, 1, 2, 3))))
            labour, parts = self.amounts(repair_type)
            mileage = spell.whole(int((opened - delivery).days * kilometres_a_day))
            if mileage_warning:
                mileage, mileage_warning = f"约{mileage}", False
                self.outcome.warnings.append(SampleIssue("repair_orders", writer.rows + 2, WARNING_WHOLE_NUMBER))
            row = [
                f"RO{store}{self.repair_order_serial:09d}",
                spell.vin(vin),
                spell.date(opened),
                spell.date(settled),
                repair_type,
                mileage,
                self.pick(SERVICE_ADVISORS),
                spell.money(labour),
                spell.money(parts),
                spell.money(labour + parts),
                store,
            ]
            row_number = writer.write(row)
            self.outcome.keys["repair_orders"] += 1
            if warning:
                self.outcome.warnings.append(SampleIssue("repair_orders", row_number, warning))
            if rng.random() < 0.25:
                in_warranty = opened < add_years(delivery, 3)
                repair_type = self.pick(("一般维修", "钣喷", "索赔") if in_warranty else ("一般维修", "钣喷"))
                opened += datetime.timedelta(days=self.between(20, 120))
            else:
                repair_type = self.pick(("定保", "保养"))
                opened += datetime.timedelta(days=self.between(150, 220))

    def amounts(self, repair_type: str) -> tuple[int, int]:
        """Labour and parts in whole yuan, by the kind of visit."""
        if repair_type == "首保":
            return 0, self.between(8, 16) * 25
        if repair_type in ("定保", "保养"):
            return self.between(3, 8) * 50, self.between(10, 40) * 25
        if repair_type == "钣喷":
            return self.between(4, 30) * 100, self.between(2, 60) * 50
        if repair_type == "索赔":
            return 0, 0  # the manufacturer pays
        return self.between(2, 20) * 50, self.between(0, 80) * 25


def dms_sample_write(
    *,
    out_dir: str | os.PathLike,
    customers: int,
    seed: int = 1,
    today: datetime.date,
    stores: Sequence[str] = ("NJ01",),
    mess: bool = False,
    encoding: str | None = None,
    xlsx: bool = False,
) -> SampleOutcome:
    """Write ``customers.csv``, ``vehicles.csv`` and ``repair_orders.csv`` (or ``.xlsx``) into
    ``out_dir`` (created if needed) and return what they hold.

    ``encoding`` is a Python codec name for the CSV files: ``utf-8-sig`` (UTF-8 with a byte order
    mark, as Excel likes it) by default, ``gbk`` by default with ``mess``. Raises ``ValueError``
    for a bad argument, ``LookupError`` for an unknown encoding, ``UnicodeEncodeError`` when the
    encoding cannot write the data and ``OSError`` when the folder cannot be written."""
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if not stores or any(not code or len(code) > 20 for code in stores):
        raise ValueError("store codes must be 1 to 20 characters")
    encoding = encoding or ("gbk" if mess else "utf-8-sig")
    "".encode(encoding)  # an unknown codec fails here, before any file is written
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".xlsx" if xlsx else ".csv"
    writers: dict[str, _Writer] = {}
    try:
        for name, header in FILES.items():
            writers[name] = _Writer(directory / f"{name}{suffix}", header, encoding=encoding, xlsx=xlsx)
        sample = _Sample(customers=customers, seed=seed, today=today, stores=stores, mess=mess, writers=writers,
                         xlsx=xlsx)  # fmt: skip
        outcome = sample.run()
    finally:
        for writer in writers.values():
            writer.close()
    for name, writer in writers.items():
        outcome.rows[name] = writer.rows
    return outcome

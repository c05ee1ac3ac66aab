"""Helpers for DMS import tests: files in the reference format, valid VINs, running the command."""

import csv
import io

from django.core.management import call_command

from customers.dms.parsing import vin_check_digit
from customers.dms.reference import REFERENCE_HEADERS

CUSTOMER_HEADER = list(REFERENCE_HEADERS["customers"])
VEHICLE_HEADER = list(REFERENCE_HEADERS["vehicles"])
REPAIR_HEADER = list(REFERENCE_HEADERS["repair_orders"])


def make_vin(number: int, *, valid: bool = True) -> str:
    body = f"LGBH52E{number:010d}"
    vin = body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]
    if not valid:
        wrong = "1" if vin[8] != "1" else "2"
        vin = vin[:8] + wrong + vin[9:]
    return vin


def customer_row(customer_no="C001", **fields) -> dict:
    row = dict.fromkeys(CUSTOMER_HEADER, "")
    row.update({"客户编号": customer_no, "客户姓名": "张伟", "性别": "男", "手机号码": "13812345678",
                "区县": "江宁区", "所属门店": "NJ01"})  # fmt: skip
    row.update(fields)
    return row


def vehicle_row(vin, customer_no="C001", **fields) -> dict:
    row = dict.fromkeys(VEHICLE_HEADER, "")
    row.update({"VIN码": vin, "车牌号": "苏A12345", "品牌": "东风日产", "车系": "轩逸", "客户编号": customer_no,
                "交车日期": "2025-03-01", "所属门店": "NJ01"})  # fmt: skip
    row.update(fields)
    return row


def repair_row(ro_no, vin, **fields) -> dict:
    row = dict.fromkeys(REPAIR_HEADER, "")
    row.update({"工单号": ro_no, "VIN码": vin, "进厂日期": "2026-01-05", "结算日期": "2026-01-06",
                "维修类型": "保养", "进厂里程": "12000", "工时费": "300", "材料费": "200.5", "结算金额": "500.50",
                "所属门店": "NJ01"})  # fmt: skip
    row.update(fields)
    return row


def write_csv(path, rows, *, header=None, encoding="utf-8-sig"):
    header = header or list(rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def run_import(kind, path, *args) -> str:
    out = io.StringIO()
    call_command("import_dms", kind, str(path), *args, "--no-progress", stdout=out)
    return out.getvalue().strip().splitlines()[-1]

"""The DMS reference format (docs/dms-import.md): each report's headers and the fields they fill,
its key and required fields, and the messages a file or a row is refused with.

Knows no model: ``customers.models`` checks a header mapping profile's aliases against it."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from customers.choices import ImportKind

# ---------------------------------------------------------------------------------------------
# The reference format: header → field, per report (docs/dms-import.md)
# ---------------------------------------------------------------------------------------------

REFERENCE_HEADERS: dict[str, dict[str, str]] = {
    ImportKind.CUSTOMERS: {
        "客户编号": "customer_no", "客户姓名": "name", "性别": "gender", "手机号码": "mobile", "固定电话": "landline",
        "出生日期": "birthday", "工作单位": "employer", "职务": "job_title", "省份": "province", "城市": "city",
        "区县": "district", "详细地址": "address", "客户来源": "source", "会员卡号": "member_card_no",
        "会员等级": "member_tier", "积分余额": "points_balance", "建档日期": "created_date", "所属门店": "store_code",
    },
    ImportKind.VEHICLES: {
        "VIN码": "vin", "车牌号": "plate_no", "品牌": "brand", "车系": "series", "车型": "model", "颜色": "color",
        "客户编号": "customer_no", "交车日期": "delivery_date", "销售顾问": "sales_consultant",
        "发票价格": "invoice_price", "保修到期日": "warranty_end", "保险公司": "insurer",
        "保险到期日": "insurance_expiry", "年检到期日": "inspection_due", "所属门店": "store_code",
    },
    ImportKind.REPAIR_ORDERS: {
        "工单号": "ro_no", "VIN码": "vin", "进厂日期": "open_date", "结算日期": "settle_date",
        "维修类型": "repair_type", "进厂里程": "mileage", "服务顾问": "service_advisor", "工时费": "labor_amount",
        "材料费": "parts_amount", "结算金额": "total_amount", "所属门店": "store_code",
    },
}  # fmt: skip
IMPORT_FIELDS: dict[str, tuple[str, ...]] = {
    kind: tuple(headers.values()) for kind, headers in REFERENCE_HEADERS.items()
}
KEY_FIELDS = {ImportKind.CUSTOMERS: "customer_no", ImportKind.VEHICLES: "vin", ImportKind.REPAIR_ORDERS: "ro_no"}
REQUIRED_FIELDS = {
    ImportKind.CUSTOMERS: ("customer_no",),
    ImportKind.VEHICLES: ("vin", "customer_no"),
    ImportKind.REPAIR_ORDERS: ("ro_no", "vin"),
}

# Rejection reasons decided in SQL (the parsers' own reasons come with their exceptions).
REASON_MISSING_CUSTOMER_NO = _("Missing customer number")
REASON_MISSING_RO_NO = _("Missing repair order number")
REASON_CONFLICTING_REPEAT = _("The key appears more than once in this file with different data")
REASON_UNKNOWN_CUSTOMER = _("Unknown customer number (neither in this import nor in the CRM)")
REASON_UNKNOWN_VIN = _("Unknown VIN (neither in this import nor in the CRM)")
REASON_UNKNOWN_STORE = _("Unknown store code")
REASON_NO_STORE = _("No store code, and no default store was chosen")
REASON_FOREIGN_STORE = _("The store is not one of yours")
REASON_ERASED = _("The customer was erased at their request: the row is not imported")
REASON_NO_NAME = _("No customer name: the row is imported, and the card shows no name until a later export gives one")
REASON_TOO_LONG = _("Too long (at most %(limit)s characters)")
REASON_TOO_LARGE = _("Too large a number")
REASON_UNKNOWN_REPAIR_TYPE = _("Unknown repair type")
REASON_MISSING_KEY_COLUMN = _("The file has no column for %(fields)s. Check the header row or the header mapping.")
FILE_EMPTY = _("The file is empty: it has no header row and no data rows.")
NO_DATA_ROWS = _("The file has no data rows: only a header row. Nothing was imported.")
WRONG_KIND = _(
    "This looks like a %(other)s file, not %(kind)s: it has a “%(column)s” column. "
    "Choose %(other)s and import it again."
)


def msgid(message) -> str:
    """The English msgid of a (lazy) message, as stored in ImportIssue.reason."""
    with translation.override(None):
        return str(message)

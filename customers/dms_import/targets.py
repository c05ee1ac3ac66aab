"""What the DMS import writes: each report's model and its columns, as expressions over the
resolved stage row."""

from customers.choices import ImportKind
from customers.models import Customer, RepairOrder, Vehicle

MODELS = {ImportKind.CUSTOMERS: Customer, ImportKind.VEHICLES: Vehicle, ImportKind.REPAIR_ORDERS: RepairOrder}

# Target columns written by the import (db column → expression over the resolved stage row "r").
TARGET_COLUMNS = {
    ImportKind.CUSTOMERS: {
        "customer_no": "r.customer_no", "store_id": "r.store_id", "name": "coalesce(r.name, '')",
        "name_pinyin": "coalesce(r.name_pinyin, '')", "name_initials": "coalesce(r.name_initials, '')",
        "gender": "coalesce(r.gender, '')", "mobile": "coalesce(r.mobile, '')",
        "landline": "coalesce(r.landline, '')", "birthday": "r.birthday", "employer": "coalesce(r.employer, '')",
        "job_title": "coalesce(r.job_title, '')", "province": "coalesce(r.province, '')",
        "city": "coalesce(r.city, '')", "district": "coalesce(r.district, '')",
        "address": "coalesce(r.address, '')", "source": "coalesce(r.source, '')",
        "member_card_no": "coalesce(r.member_card_no, '')", "member_tier": "coalesce(r.member_tier, '')",
        "points_balance": "r.points_balance", "dms_created_date": "r.created_date",
    },
    ImportKind.VEHICLES: {
        "vin": "r.vin", "customer_id": "r.customer_id", "store_id": "r.store_id",
        "plate_no": "coalesce(r.plate_no, '')", "brand": "coalesce(r.brand, '')",
        "series": "coalesce(r.series, '')", "model": "coalesce(r.model, '')", "color": "coalesce(r.color, '')",
        "delivery_date": "r.delivery_date", "sales_consultant": "coalesce(r.sales_consultant, '')",
        "invoice_price": "r.invoice_price", "warranty_end": "r.warranty_end",
        "insurer": "coalesce(r.insurer, '')", "insurance_expiry": "r.insurance_expiry",
        "inspection_due": "r.inspection_due",
    },
    ImportKind.REPAIR_ORDERS: {
        "ro_no": "r.ro_no", "vehicle_id": "r.vehicle_id", "store_id": "r.store_id", "open_date": "r.open_date",
        "settle_date": "r.settle_date", "repair_type": "coalesce(r.repair_type, '')", "mileage": "r.mileage",
        "service_advisor": "coalesce(r.service_advisor, '')", "labor_amount": "r.labor_amount",
        "parts_amount": "r.parts_amount", "total_amount": "r.total_amount",
    },
}  # fmt: skip

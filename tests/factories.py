"""factory_boy factories for the shared core and the data spine."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth.models import Group

from crm.models import Store, User
from customers.models import Customer, RepairOrder, Vehicle
from customers.pinyin import name_search_keys


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"S{n:02d}")
    name = factory.LazyAttribute(lambda store: f"门店{store.code}")
    brand = "东风日产"
    phone = "025-52101234"
    sms_signature = "江宁日产"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    last_name = "王"
    first_name = "明"
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("pw-for-tests-1")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.set([Group.objects.get(name=extracted)])

    @factory.post_generation
    def stores(self, create, extracted, **kwargs):
        if create and extracted:
            self.stores.set(extracted)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    customer_no = factory.Sequence(lambda n: f"C{n:07d}")
    store = factory.SubFactory(StoreFactory)
    name = "张伟"
    name_pinyin = factory.LazyAttribute(lambda customer: name_search_keys(customer.name)[0])
    name_initials = factory.LazyAttribute(lambda customer: name_search_keys(customer.name)[1])
    gender = "M"
    mobile = factory.Sequence(lambda n: f"138{n:08d}")
    district = "江宁区"


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    vin = factory.Sequence(lambda n: f"LGBH52E0{n:09d}")
    customer = factory.SubFactory(CustomerFactory)
    store = factory.LazyAttribute(lambda vehicle: vehicle.customer.store)
    plate_no = factory.Sequence(lambda n: f"苏A{n:05d}")
    brand = "东风日产"
    series = "轩逸"
    model = "1.6L 自动舒适版"
    delivery_date = datetime.date(2025, 3, 1)


class RepairOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RepairOrder

    ro_no = factory.Sequence(lambda n: f"RO{n:09d}")
    vehicle = factory.SubFactory(VehicleFactory)
    store = factory.LazyAttribute(lambda order: order.vehicle.store)
    open_date = datetime.date(2026, 11, 2)
    settle_date = datetime.date(2026, 11, 2)
    repair_type = "maintenance"
    mileage = 12000
    labor_amount = Decimal("300.00")
    parts_amount = Decimal("200.00")
    total_amount = Decimal("500.00")

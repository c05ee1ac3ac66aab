from rest_framework import serializers

from crm.models import Store


class StoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = [
            "id",
            "code",
            "name",
            "brand",
            "phone",
            "address",
            "is_active",
            "morning_call_start",
            "morning_call_end",
            "afternoon_call_start",
            "afternoon_call_end",
        ]

from rest_framework import serializers

from crm.api.serializers import CrmModelSerializer
from crm.models import Store
from crm.scoping import stores_for_user
from customers.models import Segment
from customers.selectors import segment_queryset_for_user
from followups.choices import CampaignKind
from followups.models import Campaign


class CampaignSerializer(CrmModelSerializer):
    """A campaign as it stands: draft, approved (recipients fixed), sending, sent or cancelled."""

    store_code = serializers.CharField(source="store.code", read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id", "store", "store_code", "name", "kind", "segment", "districts", "template", "send_at",
            "holdout_percent", "status", "created_by", "approved_by", "approved_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class CampaignCreateSerializer(serializers.Serializer):
    """A draft: its template's ``{placeholders}`` are checked when it is saved; nothing is sent
    before another manager approves it."""

    store = serializers.PrimaryKeyRelatedField(queryset=Store.objects.none())
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=CampaignKind.choices)
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.none())
    template = serializers.CharField(max_length=500)
    send_at = serializers.DateTimeField()
    holdout_percent = serializers.IntegerField(min_value=0, max_value=50, default=10)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")  # absent when the OpenAPI schema is generated
        if request is not None:
            self.fields["store"].queryset = stores_for_user(request.user)
            self.fields["segment"].queryset = segment_queryset_for_user(request.user)


class CampaignApprovalSerializer(serializers.Serializer):
    recipients = serializers.IntegerField(read_only=True, help_text="Recipients after the exclusions.")
    messages = serializers.IntegerField(read_only=True, help_text="Messages queued (the holdout gets none).")

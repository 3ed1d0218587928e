from rest_framework import serializers

from core.serializers import RecSerializer


class RecListItemSerializer(RecSerializer):
    total = serializers.IntegerField(help_text="number of RECs of the customer")


class RecDetailSerializer(RecSerializer):
    """Schema of /recs/{id}: the REC, ``code`` 0 and one page of its transactions."""

    code = serializers.IntegerField()
    transactions = serializers.ListField(child=serializers.DictField())

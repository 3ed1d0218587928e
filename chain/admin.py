from django.contrib import admin

from chain.models import Deployment, EngineTransaction, LedgerBlock, TokenEvent
from core.admin import ReadOnlyAdmin


@admin.register(LedgerBlock)
class LedgerBlockAdmin(ReadOnlyAdmin):
    list_display = [
        "ledger_height",
        "status",
        "count",
        "nonce",
        "tx_hash",
        "chain_block_number",
        "attempts",
        "sealed_at",
        "confirmed_at",
    ]
    list_filter = ["status", "sealed_at"]
    search_fields = ["=ledger_height", "root", "hash", "tx_hash"]
    exclude = ["leaves", "leaf_ids", "raw_tx"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("leaves", "leaf_ids", "raw_tx")


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["chain_id", "address", "deployed_at"]


@admin.register(TokenEvent)
class TokenEventAdmin(ReadOnlyAdmin):
    list_display = ["block_number", "kind", "sender", "receiver", "token_id", "amount"]
    list_filter = ["kind"]
    search_fields = ["=token_id", "sender", "receiver", "tx_hash"]


@admin.register(EngineTransaction)
class EngineTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "purpose", "owner_id", "status", "nonce", "tx_hash", "attempts"]
    list_filter = ["purpose", "status"]
    search_fields = ["=owner_id", "tx_hash"]
    exclude = ["raw_tx"]

"""The club's writes, one module per concern: the points ledger and tiers (``ledger``), stored value
(``wallet``), a store's club settings (``settings``), referrals (``referrals``), the API's replays of
a reference (``replays``) and club events (``events``). Each write locks the row it changes and is
audited; each that takes a reference is idempotent by it. The set-based nightly work is in clubs.run.
"""

from clubs.services.ledger import (  # noqa: I001
    ReferenceReused,
    MAX_POINTS_PER_ENTRY,
    points_available,
    points_redeem,
    points_adjust,
    points_credit,
    tier_set,
    lifetime_fee_record,
)
from clubs.services.wallet import (
    wallet_top_up,
    wallet_spend,
)
from clubs.services.ledger import (
    membership_join,
)
from clubs.services.settings import (
    STORE_CLUB_RULE_FIELDS,
    TIER_RULE_FIELDS,
    store_club_start,
    store_club_update,
    tier_rule_update,
)
from clubs.services.referrals import (
    REFERRAL_TEXT_LIMIT,
    LOST_REASON_LIMIT,
)
from clubs.services.replays import (
    points_redeem_by_reference,
    wallet_top_up_by_reference,
    wallet_spend_by_reference,
)
from clubs.services.referrals import (
    referral_record,
    referral_record_at_delivery,
    referral_stage_set,
    referral_assign,
)
from clubs.services.events import (
    EVENT_FIELDS,
    HOLDING_A_PLACE,
    event_create,
    event_update,
    event_invite,
    event_register,
    event_cancel,
    event_check_in,
)

__all__ = [
    "EVENT_FIELDS",
    "HOLDING_A_PLACE",
    "LOST_REASON_LIMIT",
    "MAX_POINTS_PER_ENTRY",
    "REFERRAL_TEXT_LIMIT",
    "STORE_CLUB_RULE_FIELDS",
    "TIER_RULE_FIELDS",
    "ReferenceReused",
    "event_cancel",
    "event_check_in",
    "event_create",
    "event_invite",
    "event_register",
    "event_update",
    "lifetime_fee_record",
    "membership_join",
    "points_adjust",
    "points_available",
    "points_credit",
    "points_redeem",
    "points_redeem_by_reference",
    "referral_assign",
    "referral_record",
    "referral_record_at_delivery",
    "referral_stage_set",
    "store_club_start",
    "store_club_update",
    "tier_rule_update",
    "tier_set",
    "wallet_spend",
    "wallet_spend_by_reference",
    "wallet_top_up",
    "wallet_top_up_by_reference",
]

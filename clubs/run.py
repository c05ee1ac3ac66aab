"""Starting a store's club and the nightly club run, set-based (docs/club.md).

``club_start`` opens a store's club on S; ``club_run`` is what the nightly beat job and
``manage.py club_run`` do for every started store through a day D: join the new members, credit the
referred sales, earn every settled repair order not earned yet (at the tier held before it, raising
the tier after it), expire the lots whose day has come, and bring the members' cached balance and
tier up to date. Every step is one SQL statement over every store at once, so the number of queries
does not depend on the number of members or stores; running a day again changes nothing.
"""

import datetime
import logging
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clubs.choices import DMS_TIER_SPELLINGS, SETTING_KINDS, EntryKind, Tier, TierChangeKind
from clubs.models import (
    Membership,
    PointsAllocation,
    PointsEntry,
    Referral,
    StoreClub,
    TierChange,
    TierRule,
)
from crm.exceptions import ApplicationError
from crm.models import Store
from customers.choices import RepairType
from customers.facts import customer_stats_refresh_member_tier
from customers.selectors import CUSTOMER_TABLE, REPAIR_ORDER_TABLE, VEHICLE_TABLE, not_erased_sql
from customers.services.prospects import prospects_win_referred

logger = logging.getLogger(__name__)

MEMBERSHIP = Membership._meta.db_table
TIER_CHANGE = TierChange._meta.db_table
POINTS = PointsEntry._meta.db_table
ALLOCATION = PointsAllocation._meta.db_table
STORE_CLUB = StoreClub._meta.db_table
TIER_RULE = TierRule._meta.db_table
REFERRAL = Referral._meta.db_table
STORE = Store._meta.db_table

WARRANTY_CLAIM = RepairType.WARRANTY_CLAIM.value
SETTING_KINDS_SQL = ", ".join(f"'{kind.value}'" for kind in SETTING_KINDS)
RISE_KINDS_SQL = f"'{TierChangeKind.TOPUP.value}', '{TierChangeKind.LIFETIME.value}'"

# A run looks again at the repair orders and cars changed in the two days before its last start:
# an import that began before a run and committed after it is still counted the next night.
LOOK_BACK = datetime.timedelta(days=2)

# A run that wrote at least this many rows (and every start) brings the planner's statistics of the
# club's tables up to date at once (a first start or a catch-up writes millions of rows, and the
# export's plan read from day-old statistics would loop over every member).
ANALYZE_AFTER_ROWS = 10_000

#: Each tier's defaults (docs/club.md): points per ¥50, the share of the labour price paid, benefits.
_BASIC = "生日当月工时5折；24小时救援热线"
_VIP = "生日当月工时5折；优先预约（VIP绿色通道）；VIP休息室；24小时救援热线"
DEFAULT_TIER_RULES = {
    Tier.REGULAR: (1, "0.95", f"工时费9.5折；{_BASIC}"),
    Tier.SILVER: (2, "0.95", f"工时费9.5折；{_BASIC}"),
    Tier.GOLD: (3, "0.70", f"工时费7折；{_VIP}"),
    Tier.DIAMOND: (3, "0.70", f"工时费7折；{_VIP}；储值消费"),
    Tier.LIFETIME: (3, "0.70", f"工时费7折；{_VIP}；终身有效"),
}


def dms_tier_rank_sql(column: str) -> str:
    """An SQL expression turning the DMS's 会员等级 text ``column`` into a tier rank (blank and
    unknown spellings are 普通)."""
    cases = " ".join(f"WHEN '{spelling}' THEN {int(rank)}" for spelling, rank in DMS_TIER_SPELLINGS.items())
    return f"(CASE btrim({column}) {cases} ELSE 0 END)"


def dms_tier_known_sql(column: str) -> str:
    spellings = ", ".join(f"'{spelling}'" for spelling in DMS_TIER_SPELLINGS)
    return f"(btrim({column}) = '' OR btrim({column}) IN ({spellings}))"


@dataclass
class ClubStartResult:
    store_code: str
    started_on: datetime.date
    members: int = 0
    opening_points: int = 0
    tiers: dict[str, int] = field(default_factory=dict)
    unknown_tiers: dict[str, int] = field(default_factory=dict)


@dataclass
class ClubRunResult:
    through: datetime.date
    stores: list[str] = field(default_factory=list)
    joined: int = 0
    orders_earned: int = 0
    points_earned: int = 0
    tier_rises: int = 0
    referrals_won: int = 0
    referral_points: int = 0
    lots_expired: int = 0
    points_expired: int = 0
    members_updated: int = 0


def _months(column: str, months: str) -> str:
    """``column`` + ``months`` months as a date, keeping the day and clamping to the month's end."""
    return f"({column} + make_interval(months => {months}))::date"


def _analyze(cursor) -> None:
    for table in (MEMBERSHIP, POINTS, TIER_CHANGE, ALLOCATION):
        cursor.execute(f"ANALYZE {table}")


def _prepare(cursor) -> None:
    cursor.execute("SET LOCAL jit = off")
    cursor.execute("SET LOCAL work_mem = '128MB'")


@transaction.atomic
def club_start(*, store: Store, started_on: datetime.date, user=None) -> ClubStartResult:
    """Start ``store``'s club on S = ``started_on``: the store's rules with their defaults, and every
    customer who is a member on S joins with the DMS's tier and opening balance (one lot earned on
    S). Refused when the club has started already."""
    if StoreClub.objects.select_for_update().filter(store=store).exists():
        club = StoreClub.objects.get(store=store)
        raise ApplicationError(
            _("The club of %(store)s started on %(day)s already; it cannot be started again.")
            % {"store": store.code, "day": club.started_on.isoformat()}
        )
    club = StoreClub.objects.create(store=store, started_on=started_on)
    TierRule.objects.bulk_create(
        TierRule(store=store, tier=tier, points_rate=rate, labour_discount=discount, benefits=benefits)
        for tier, (rate, discount, benefits) in DEFAULT_TIER_RULES.items()
    )
    result = ClubStartResult(store_code=store.code, started_on=started_on)
    with connection.cursor() as cursor:
        _prepare(cursor)
        cursor.execute(
            f"""
            SELECT btrim(member_tier), count(*) FROM {CUSTOMER_TABLE} c
            WHERE c.store_id = %(store)s AND NOT {dms_tier_known_sql("c.member_tier")}
            GROUP BY 1 ORDER BY 2 DESC, 1
            """,
            {"store": store.pk},
        )
        result.unknown_tiers = dict(cursor.fetchall())
        _join_members(cursor, through=started_on, stores=[store.pk], since=_Since.of([club]), opening=True)
        cursor.execute(
            f"""
            SELECT m.tier, count(*), coalesce(sum(m.opening_points), 0) FROM {MEMBERSHIP} m
            WHERE m.store_id = %(store)s GROUP BY m.tier ORDER BY m.tier
            """,
            {"store": store.pk},
        )
        for tier, count, points in cursor.fetchall():
            result.tiers[str(Tier(tier).label)] = count
            result.members += count
            result.opening_points += points
        _analyze(cursor)  # once per store's start: the tables may have grown from nothing
    club.refresh_from_db()
    return result


@dataclass(frozen=True)
class _Since:
    """What changed since the stores' last run: a run reads the orders settled after
    ``settled_after`` and the rows changed from ``changed_since`` on; ``fresh`` stores never ran
    and are read whole."""

    settled_after: datetime.date
    changed_since: datetime.datetime
    fresh: list[int]

    @classmethod
    def of(cls, clubs) -> "_Since":
        fresh = [club.store_id for club in clubs if club.run_through is None or club.last_run_at is None]
        ran = [club for club in clubs if club.store_id not in fresh]
        # A store that never ran is read whole (every order settled, every lot to expire).
        settled_after = datetime.date.min if fresh else min(club.run_through for club in ran)
        if not ran:
            return cls(settled_after, datetime.datetime.max.replace(tzinfo=datetime.UTC), fresh)
        return cls(settled_after, min(club.last_run_at for club in ran) - LOOK_BACK, fresh)

    @property
    def only_fresh(self) -> bool:
        return self.changed_since.year == datetime.MAXYEAR

    def params(self) -> dict:
        return {"settled_after": self.settled_after, "changed_since": self.changed_since, "fresh": self.fresh}


def _join_members(cursor, *, through: datetime.date, stores: list[int], since: "_Since", opening: bool = False) -> int:
    """Every customer of a started store who is a member by ``through`` and has no membership yet
    joins: on the first delivery date, or on S for those who were members before it (a delivery on
    or before S, or a DMS card without a delivery). The card is the DMS's card number, else one the
    CRM issues (M + store code + a running number, in order of joining day and customer number).
    A card erased at the customer's request never joins (it keeps its delivered cars as statistics).

    With ``opening`` (club_start) the members joining on S take the DMS's tier and points balance
    as their opening tier and opening lot; later members start at 普通 with no points."""
    # Stores that never ran are read whole; the windows matter only when a store did run.
    changed = (
        ""
        if since.only_fresh
        else f"""
            UNION SELECT c.id FROM {CUSTOMER_TABLE} c WHERE c.updated_at >= %(changed_since)s
            UNION SELECT v.customer_id FROM {VEHICLE_TABLE} v
                  WHERE v.delivery_date > %(settled_after)s AND v.delivery_date <= %(through)s
            UNION SELECT v.customer_id FROM {VEHICLE_TABLE} v WHERE v.updated_at >= %(changed_since)s"""
    )
    opening_tier = dms_tier_rank_sql("j.dms_tier") if opening else "0"
    opening_points = "greatest(coalesce(j.dms_points, 0), 0)" if opening else "0"
    cursor.execute(
        f"""
        WITH pool AS (
            -- The customers who may have become members since the last run: every customer of a
            -- store never run, those changed since, and those with a car delivered or changed since.
            SELECT c.id FROM {CUSTOMER_TABLE} c WHERE c.store_id = ANY(%(fresh)s){changed}
        ), candidates AS (
            SELECT c.id AS customer_id, c.customer_no, c.store_id, sc.started_on, st.code,
                   nullif(btrim(c.member_card_no), '') AS card, c.member_tier AS dms_tier,
                   c.points_balance AS dms_points,
                   (SELECT min(v.delivery_date) FROM {VEHICLE_TABLE} v
                    WHERE v.customer_id = c.id AND v.delivery_date IS NOT NULL) AS first_delivery
            FROM pool p
            JOIN {CUSTOMER_TABLE} c ON c.id = p.id
            JOIN {STORE_CLUB} sc ON sc.store_id = c.store_id
            JOIN {STORE} st ON st.id = sc.store_id
            WHERE sc.started_on <= %(through)s AND sc.store_id = ANY(%(stores)s)
              AND NOT EXISTS (SELECT 1 FROM {MEMBERSHIP} m WHERE m.customer_id = c.id)
              AND {not_erased_sql("c.id")}
              AND (btrim(c.member_card_no) <> ''
                   OR EXISTS (SELECT 1 FROM {VEHICLE_TABLE} v
                              WHERE v.customer_id = c.id AND v.delivery_date <= %(through)s))
        ), joining AS (
            SELECT j.*,
                   CASE WHEN j.first_delivery IS NULL OR j.first_delivery <= j.started_on
                        THEN j.started_on ELSE j.first_delivery END AS joined_on
            FROM candidates j
        ), numbered AS (
            SELECT j.*, {opening_tier} AS tier,
                   CASE WHEN j.joined_on = j.started_on THEN {opening_points} ELSE 0 END AS points,
                   CASE WHEN j.card IS NULL THEN row_number() OVER (
                       PARTITION BY j.store_id, j.card IS NULL ORDER BY j.joined_on, j.customer_no COLLATE "C") END AS n
            FROM joining j WHERE j.joined_on <= %(through)s
        ), issued AS (
            SELECT n.*, coalesce(n.card, 'M' || n.code || lpad((sc.next_card_no + n.n - 1)::text, 6, '0')) AS card_no,
                   CASE WHEN n.joined_on = n.started_on THEN n.tier ELSE 0 END AS joined_tier
            FROM numbered n JOIN {STORE_CLUB} sc ON sc.store_id = n.store_id
        ), inserted AS (
            INSERT INTO {MEMBERSHIP} (customer_id, store_id, card_no, card_issued_by_crm, joined_on, opening_tier,
                                     opening_points, tier, points_balance, wallet_balance, credit_card_bank,
                                     created_at)
            SELECT i.customer_id, i.store_id, i.card_no, i.card IS NULL, i.joined_on, i.joined_tier,
                   i.points, i.joined_tier, i.points, 0, '', now()
            FROM issued i
            RETURNING id, joined_on, opening_tier, opening_points, store_id
        ), tiers AS (
            INSERT INTO {TIER_CHANGE} (membership_id, effective_on, tier, kind, reference, reason, created_at)
            SELECT id, joined_on, opening_tier,
                   CASE WHEN %(opening)s THEN '{TierChangeKind.OPENING.value}' ELSE '{TierChangeKind.JOINED.value}' END,
                   '', '', now()
            FROM inserted
        ), lots AS (
            INSERT INTO {POINTS} (membership_id, kind, "on", points, expires_on, reference, note, created_at)
            SELECT i.id, '{EntryKind.OPENING.value}', i.joined_on, i.opening_points,
                   {_months("i.joined_on", "sc.points_valid_months")}, '', '', now()
            FROM inserted i JOIN {STORE_CLUB} sc ON sc.store_id = i.store_id
            WHERE i.opening_points > 0
        )
        SELECT count(*) FROM inserted
        """,
        {"through": through, "stores": stores, "opening": opening, **since.params()},
    )
    joined = cursor.fetchone()[0]
    cursor.execute(
        f"""
        UPDATE {STORE_CLUB} sc SET next_card_no = 1 + (
            SELECT count(*) FROM {MEMBERSHIP} m WHERE m.store_id = sc.store_id AND m.card_issued_by_crm)
        WHERE sc.started_on <= %(through)s AND sc.store_id = ANY(%(stores)s)
        """,
        {"through": through, "stores": stores},
    )
    return joined


def _earn_orders(cursor, *, through: datetime.date, stores: list[int], since: "_Since", first_member_id: int):
    """Earn every settled repair order (not 索赔, settled on or after S and by ``through``) of every
    member that has one not earned yet, at the rate of the tier held before it; record the tier
    rises the orders cause. Returns (orders earned, points earned, tier rises)."""
    # Temporary tables go with the transaction; a caller's outer transaction (a test) may hold them still.
    cursor.execute("DROP TABLE IF EXISTS club_touched, club_orders, club_earn")
    # The members to look at: those with an order not earned yet among the orders settled since the
    # last run, changed (or whose car changed) since just before it, of members who joined in this
    # run, or of stores never run. Each part reads an index or one table, never all members.
    cursor.execute(
        f"""
        CREATE TEMP TABLE club_touched ON COMMIT DROP AS
        WITH recent AS (
            SELECT ro.id FROM {REPAIR_ORDER_TABLE} ro
            WHERE ro.settle_date > %(settled_after)s AND ro.settle_date <= %(through)s
            UNION SELECT ro.id FROM {REPAIR_ORDER_TABLE} ro WHERE ro.updated_at >= %(changed_since)s
            UNION SELECT ro.id FROM {VEHICLE_TABLE} v JOIN {REPAIR_ORDER_TABLE} ro ON ro.vehicle_id = v.id
                  WHERE v.updated_at >= %(changed_since)s
            UNION SELECT ro.id FROM {MEMBERSHIP} m
                  JOIN {VEHICLE_TABLE} v ON v.customer_id = m.customer_id
                  JOIN {REPAIR_ORDER_TABLE} ro ON ro.vehicle_id = v.id
                  WHERE m.id >= %(first_member)s OR m.store_id = ANY(%(fresh)s)
        )
        SELECT DISTINCT m.id AS member_id
        FROM recent r
        JOIN {REPAIR_ORDER_TABLE} ro ON ro.id = r.id
        JOIN {VEHICLE_TABLE} v ON v.id = ro.vehicle_id
        JOIN {MEMBERSHIP} m ON m.customer_id = v.customer_id AND m.joined_on <= %(through)s
        JOIN {STORE_CLUB} sc ON sc.store_id = m.store_id
        WHERE sc.started_on <= %(through)s AND sc.store_id = ANY(%(stores)s)
          AND ro.settle_date >= sc.started_on AND ro.settle_date <= %(through)s
          AND ro.repair_type <> %(claim)s
          AND NOT EXISTS (SELECT 1 FROM {POINTS} e WHERE e.repair_order_id = ro.id)
        """,
        {"through": through, "stores": stores, "claim": WARRANTY_CLAIM, "first_member": first_member_id,
         **since.params()},
    )  # fmt: skip
    # Every qualifying order of those members (earned or not: they make the 12-month windows).
    cursor.execute(
        f"""
        CREATE TEMP TABLE club_orders ON COMMIT DROP AS
        SELECT m.id AS member_id, m.store_id, ro.id AS ro_id, ro.settle_date AS d, ro.ro_no,
               coalesce(ro.total_amount, 0) AS amount,
               EXISTS (SELECT 1 FROM {POINTS} e WHERE e.repair_order_id = ro.id) AS earned
        FROM club_touched t
        JOIN {MEMBERSHIP} m ON m.id = t.member_id
        JOIN {STORE_CLUB} sc ON sc.store_id = m.store_id
        JOIN {VEHICLE_TABLE} v ON v.customer_id = m.customer_id
        JOIN {REPAIR_ORDER_TABLE} ro ON ro.vehicle_id = v.id
        WHERE ro.settle_date >= sc.started_on AND ro.settle_date <= %(through)s AND ro.repair_type <> %(claim)s
        """,
        {"through": through, "claim": WARRANTY_CLAIM},
    )
    cursor.execute("CREATE INDEX ON club_orders (member_id, d)")
    cursor.execute("ANALYZE club_orders")
    # For each order: its 12-month window's spend (orders settled after d − 12 months and up to it,
    # the same day's in ro_no order), the tier that spend reaches, the setting tier change in force
    # (opening, joined or a manager's), the top-up and lifetime rises since, and the highest tier an
    # earlier order's spend reached since that setting change: together the tier held before it.
    cursor.execute(
        f"""
        CREATE TEMP TABLE club_earn ON COMMIT DROP AS
        WITH spend AS (
            SELECT o.*, (
                SELECT sum(w.amount) FROM club_orders w
                WHERE w.member_id = o.member_id AND w.d > (o.d - interval '12 months')::date
                  AND (w.d < o.d OR (w.d = o.d AND w.ro_no COLLATE "C" <= o.ro_no COLLATE "C"))) AS window_spend
            FROM club_orders o
        ), based AS (
            SELECT s.*, sc.points_per_amount, sc.points_valid_months,
                   CASE WHEN s.window_spend >= sc.gold_spend THEN {int(Tier.GOLD)}
                        WHEN s.window_spend >= sc.silver_spend THEN {int(Tier.SILVER)} ELSE 0 END AS spend_tier,
                   base.id AS base_id, base.tier AS base_tier, base.effective_on AS base_on
            FROM spend s
            JOIN {STORE_CLUB} sc ON sc.store_id = s.store_id
            CROSS JOIN LATERAL (
                SELECT t.id, t.tier, t.effective_on FROM {TIER_CHANGE} t
                WHERE t.membership_id = s.member_id AND t.kind IN ({SETTING_KINDS_SQL})
                ORDER BY (t.effective_on <= s.d) DESC,
                         CASE WHEN t.effective_on <= s.d THEN t.effective_on END DESC NULLS LAST,
                         t.effective_on, t.id DESC
                LIMIT 1) base
        ), risen AS (
            SELECT b.*, coalesce((
                SELECT max(r.tier) FROM {TIER_CHANGE} r
                WHERE r.membership_id = b.member_id AND r.kind IN ({RISE_KINDS_SQL}) AND r.effective_on <= b.d
                  AND (r.effective_on > b.base_on OR (r.effective_on = b.base_on AND r.id > b.base_id))), 0)
                AS rise_tier
            FROM based b
        )
        SELECT r.*, greatest(r.base_tier, r.rise_tier, coalesce(max(r.spend_tier) OVER (
                   PARTITION BY r.member_id, r.base_id ORDER BY r.d, r.ro_no COLLATE "C"
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS tier_before
        FROM risen r
        """
    )
    cursor.execute(
        f"""
        WITH earned AS (
            INSERT INTO {POINTS} (membership_id, kind, "on", points, expires_on, repair_order_id, reference, note,
                                  created_at)
            SELECT e.member_id, '{EntryKind.ORDER.value}', e.d,
                   (greatest(floor(e.amount / e.points_per_amount), 0) * rule.points_rate)::int,
                   {_months("e.d", "e.points_valid_months")}, e.ro_id, '', '', now()
            FROM club_earn e
            JOIN {TIER_RULE} rule ON rule.store_id = e.store_id AND rule.tier = e.tier_before
            WHERE NOT e.earned
            ORDER BY e.member_id, e.d, e.ro_no
            ON CONFLICT (repair_order_id) DO NOTHING
            RETURNING points
        )
        SELECT count(*), coalesce(sum(points), 0) FROM earned
        """
    )
    orders, points = cursor.fetchone()
    cursor.execute(
        f"""
        WITH risen AS (
            INSERT INTO {TIER_CHANGE} (membership_id, effective_on, tier, kind, repair_order_id, reference, reason,
                                       created_at)
            SELECT e.member_id, greatest(e.d, e.base_on), e.spend_tier, '{TierChangeKind.SPEND.value}', e.ro_id,
                   '', '', now()
            FROM club_earn e WHERE e.spend_tier > e.tier_before
            ORDER BY e.member_id, e.d, e.ro_no
            ON CONFLICT (repair_order_id) WHERE repair_order_id IS NOT NULL DO NOTHING
            RETURNING id
        )
        SELECT count(*) FROM risen
        """
    )
    rises = cursor.fetchone()[0]
    cursor.execute("DROP TABLE club_touched, club_orders, club_earn")
    return orders, points, rises


REFERRAL_HISTORY = Referral.history.model._meta.db_table


def _referral_history_columns(prefix: str = "") -> str:
    """The referral's columns its history table copies (the history's own columns aside)."""
    own = {"history_id", "history_date", "history_change_reason", "history_type", "history_user_id"}
    return ", ".join(
        f"{prefix}{field.column}" for field in Referral.history.model._meta.concrete_fields if field.column not in own
    )


def _win_referrals(cursor, *, through: datetime.date, stores: list[int]) -> tuple[int, int]:
    """Win the open referrals whose prospect's mobile took delivery of a car within the store's
    window after the referral (by ``through``): each car once, to the earliest referral; each
    referral once, with its earliest car; each win a line of the referral's history. A customer
    referrer who is a member earns the store's referral points (a lot earned on the delivery day);
    a staff referral earns none."""
    cursor.execute(
        f"""
        WITH pairs AS (
            SELECT r.id AS referral_id, v.id AS vehicle_id, v.customer_id, v.delivery_date, r.referred_on
            FROM {REFERRAL} r
            JOIN {STORE_CLUB} sc ON sc.store_id = r.store_id AND sc.started_on <= %(through)s
                 AND sc.store_id = ANY(%(stores)s)
            JOIN {CUSTOMER_TABLE} c ON c.mobile = r.prospect_mobile
            JOIN {VEHICLE_TABLE} v ON v.customer_id = c.id
            WHERE r.won_vehicle_id IS NULL AND r.stage <> 'lost' AND r.prospect_mobile <> ''
              AND v.delivery_date <= %(through)s AND v.delivery_date >= r.referred_on
              AND v.delivery_date <= r.referred_on + sc.referral_window_days
              AND NOT EXISTS (SELECT 1 FROM {REFERRAL} w WHERE w.won_vehicle_id = v.id)
        ), per_vehicle AS (
            SELECT DISTINCT ON (vehicle_id) * FROM pairs ORDER BY vehicle_id, referred_on, referral_id
        ), per_referral AS (
            SELECT DISTINCT ON (referral_id) * FROM per_vehicle ORDER BY referral_id, delivery_date, vehicle_id
        ), won AS (
            UPDATE {REFERRAL} r SET won_vehicle_id = p.vehicle_id, won_customer_id = p.customer_id,
                   won_on = p.delivery_date, stage = 'won', updated_at = now()
            FROM per_referral p WHERE r.id = p.referral_id
            RETURNING r.*
        ), logged AS (
            INSERT INTO {REFERRAL_HISTORY} ({_referral_history_columns()}, history_date, history_change_reason,
                                            history_type)
            SELECT {_referral_history_columns("w.")}, now(), 'won by a delivery', '~' FROM won w
        ), credited AS (
            INSERT INTO {POINTS} (membership_id, kind, "on", points, expires_on, reference, note, created_at)
            SELECT m.id, '{EntryKind.REFERRAL.value}', w.won_on, sc.referral_points,
                   {_months("w.won_on", "sc.points_valid_months")}, 'referral:' || w.id, '', now()
            FROM won w
            JOIN {MEMBERSHIP} m ON m.customer_id = w.referrer_id
            JOIN {STORE_CLUB} sc ON sc.store_id = m.store_id
            WHERE sc.referral_points > 0
            ON CONFLICT DO NOTHING
            RETURNING points
        )
        SELECT (SELECT count(*) FROM won), (SELECT coalesce(sum(points), 0) FROM credited),
               (SELECT coalesce(array_agg(ARRAY[w.prospect_id, w.won_vehicle_id, w.won_customer_id,
                                               w.won_on - DATE '2000-01-01'] ORDER BY w.id), '{{}}')
                FROM won w WHERE w.prospect_id IS NOT NULL)
        """,
        {"through": through, "stores": stores},
    )
    won, points, wins = cursor.fetchone()
    # The referrals' prospects are won with them (customers keeps the prospects and their history).
    epoch = datetime.date(2000, 1, 1)
    prospects_win_referred(
        wins=[
            (prospect, vehicle, customer, epoch + datetime.timedelta(days=day))
            for prospect, vehicle, customer, day in wins
        ]
    )
    return won, points


def _expire_lots(
    cursor, *, through: datetime.date, stores: list[int], since: "_Since", first_entry_id: int
) -> tuple[int, int]:
    """Take out, on its expiry day, what is left of every lot expiring by ``through``: the lots
    expiring since the last run and those credited in this run. Returns (lots, points)."""
    cursor.execute(
        f"""
        WITH lots AS (
            SELECT l.id FROM {POINTS} l WHERE l.expires_on > %(settled_after)s AND l.expires_on <= %(through)s
            UNION SELECT l.id FROM {POINTS} l WHERE l.id >= %(first_entry)s AND l.expires_on <= %(through)s
        ), due AS (
            SELECT l.id, l.membership_id, l.expires_on,
                   l.points - coalesce((SELECT sum(a.points) FROM {ALLOCATION} a WHERE a.lot_id = l.id), 0) AS left_over
            FROM lots
            JOIN {POINTS} l ON l.id = lots.id
            JOIN {MEMBERSHIP} m ON m.id = l.membership_id
            JOIN {STORE_CLUB} sc ON sc.store_id = m.store_id AND sc.store_id = ANY(%(stores)s)
            WHERE NOT EXISTS (SELECT 1 FROM {POINTS} x WHERE x.lot_id = l.id)
        ), expired AS (
            INSERT INTO {POINTS} (membership_id, kind, "on", points, lot_id, reference, note, created_at)
            SELECT d.membership_id, '{EntryKind.EXPIRY.value}', d.expires_on, -d.left_over, d.id, '', '', now()
            FROM due d WHERE d.left_over > 0
            ORDER BY d.membership_id, d.expires_on, d.id
            RETURNING points
        )
        SELECT count(*), coalesce(-sum(points), 0) FROM expired
        """,
        {"through": through, "stores": stores, "first_entry": first_entry_id, **since.params()},
    )
    return cursor.fetchone()


def tier_on_sql(*, member: str, day: str) -> str:
    """The tier of the membership row ``member`` at the end of the SQL date ``day``: the last
    setting change (opening, joined, a manager's) on or before it, raised by every rise since."""
    return f"""(SELECT greatest(base.tier, coalesce((
            SELECT max(r.tier) FROM {TIER_CHANGE} r
            WHERE r.membership_id = {member}.id AND r.kind NOT IN ({SETTING_KINDS_SQL}) AND r.effective_on <= {day}
              AND (r.effective_on > base.effective_on OR (r.effective_on = base.effective_on AND r.id > base.id))), 0))
        FROM (SELECT t.id, t.tier, t.effective_on FROM {TIER_CHANGE} t
              WHERE t.membership_id = {member}.id AND t.kind IN ({SETTING_KINDS_SQL}) AND t.effective_on <= {day}
              ORDER BY t.effective_on DESC, t.id DESC LIMIT 1) base)"""


def tiers_on_sql(*, day: str) -> str:
    """A relation (membership_id, tier) of every member's tier at the end of the SQL date ``day``,
    set-based (one pass over the tier changes): the same answer as ``tier_on_sql`` per member."""
    return f"""(
        WITH base AS (
            SELECT DISTINCT ON (t.membership_id) t.membership_id, t.id, t.tier, t.effective_on
            FROM {TIER_CHANGE} t
            WHERE t.kind IN ({SETTING_KINDS_SQL}) AND t.effective_on <= {day}
            ORDER BY t.membership_id, t.effective_on DESC, t.id DESC
        )
        SELECT b.membership_id, greatest(b.tier, max(r.tier)) AS tier
        FROM base b
        LEFT JOIN {TIER_CHANGE} r ON r.membership_id = b.membership_id AND r.kind NOT IN ({SETTING_KINDS_SQL})
             AND r.effective_on <= {day}
             AND (r.effective_on > b.effective_on OR (r.effective_on = b.effective_on AND r.id > b.id))
        GROUP BY b.membership_id, b.tier)"""


def members_refresh_sql(*, where: str) -> str:
    """The statement that writes the cached points balance (the sum of the ledger) and tier (as of
    the store's last run, else today) of the members ``where`` selects (alias ``m``)."""
    return f"""
        UPDATE {MEMBERSHIP} m SET
            points_balance = coalesce((SELECT sum(e.points) FROM {POINTS} e WHERE e.membership_id = m.id), 0),
            tier = coalesce({tier_on_sql(member="m", day="greatest(sc.run_through, (now() AT TIME ZONE 'Asia/Shanghai')::date)")}, m.tier)
        FROM {STORE_CLUB} sc
        WHERE sc.store_id = m.store_id AND ({where})
    """  # noqa: E501


@transaction.atomic
def club_run(*, through: datetime.date, store_ids: list[int] | None = None) -> ClubRunResult:
    """The nightly club run through day ``through`` for every store whose club has started by then
    (or the stores of ``store_ids``): joins, referral wins, earnings, tier rises, expiries, caches.
    Running it again, or for an earlier day, changes nothing that is done already."""
    result = ClubRunResult(through=through)
    clubs = StoreClub.objects.select_for_update().filter(started_on__lte=through).select_related("store")
    if store_ids is not None:
        clubs = clubs.filter(store_id__in=store_ids)
    clubs = list(clubs.order_by("store__code"))
    if not clubs:
        return result
    result.stores = [club.store.code for club in clubs]
    stores = [club.store_id for club in clubs]
    run_started = timezone.now()
    with connection.cursor() as cursor:
        _prepare(cursor)
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {MEMBERSHIP}")
        first_member = cursor.fetchone()[0]
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {POINTS}")
        first_entry = cursor.fetchone()[0]
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {TIER_CHANGE}")
        first_change = cursor.fetchone()[0]
        since = _Since.of(clubs)
        result.joined = _join_members(cursor, through=through, stores=stores, since=since)
        result.referrals_won, result.referral_points = _win_referrals(cursor, through=through, stores=stores)
        result.orders_earned, result.points_earned, result.tier_rises = _earn_orders(
            cursor, through=through, stores=stores, since=since, first_member_id=first_member
        )
        result.lots_expired, result.points_expired = _expire_lots(
            cursor, through=through, stores=stores, since=since, first_entry_id=first_entry
        )
        cursor.execute(
            f"""
            UPDATE {STORE_CLUB} SET run_through = greatest(run_through, %(through)s), last_run_at = %(started)s
            WHERE store_id = ANY(%(stores)s)
            """,
            {"through": through, "started": run_started, "stores": stores},
        )
        cursor.execute(
            members_refresh_sql(
                where=f"""m.id IN (
                    SELECT id FROM {MEMBERSHIP} WHERE id >= %(first_member)s
                    UNION SELECT membership_id FROM {POINTS} WHERE id >= %(first_entry)s
                    UNION SELECT membership_id FROM {TIER_CHANGE} WHERE id >= %(first_change)s)"""
            ),
            {"first_member": first_member, "first_entry": first_entry, "first_change": first_change},
        )
        result.members_updated = cursor.rowcount
        if result.joined + result.orders_earned + result.lots_expired + result.tier_rises >= ANALYZE_AFTER_ROWS:
            _analyze(cursor)
    # The segment facts' tier of the members whose tier this run set (all of a club's on its first
    # run: their opening tier). A desk's change between runs reaches them by the nightly full refresh.
    customer_stats_refresh_member_tier(
        customer_ids_sql=f"""
            SELECT customer_id FROM {MEMBERSHIP} WHERE store_id = ANY(%(never_run)s)
            UNION SELECT customer_id FROM {MEMBERSHIP} WHERE id >= %(first_member)s
            UNION SELECT m.customer_id FROM {TIER_CHANGE} t JOIN {MEMBERSHIP} m ON m.id = t.membership_id
                  WHERE t.id >= %(first_change)s""",
        params={
            "never_run": [club.store_id for club in clubs if club.last_run_at is None],
            "first_member": first_member,
            "first_change": first_change,
        },
        today=through,
    )
    logger.info("club run through %s: %s", through.isoformat(), result)
    return result

"""Demo club for `make run`: every demo store's club started 350 days ago from the DMS's tiers and
balances, and run through today, so members have earned points, risen tiers and points that expire
within the month (the opening lots)."""

import datetime

from clubs.run import club_run, club_start


def seed(*, context) -> None:
    started_on = context.today - datetime.timedelta(days=350)
    members = 0
    for store in context.stores.values():
        members += club_start(store=store, started_on=started_on).members
    result = club_run(through=context.today)
    context.counts["club_members"] = members + result.joined
    context.counts["club_orders_earned"] = result.orders_earned

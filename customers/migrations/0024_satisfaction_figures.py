"""Satisfaction over time from monthly figures (docs/retention.md, "Satisfaction over time"): each
result is credited, when it is recorded, to the customer's store, service advisor and sales
consultant of record, and the results are counted per month, store and group in
``SatisfactionMonth``.

The results already recorded are credited here, set-based, as the page worked them out on every view
until now: the customer's store as it stands, the advisor of the customer's latest repair order
settled on or before the result's local day, the consultant of the customer's newest car delivered
on or before it (blank when none). Then every month's figures are counted from them. Both
statements are this migration's own copies (the code may change later); rows written afterwards by
other means than the CRM's desks are credited by the nightly run (customers.satisfaction_figures).
Reversing it drops the columns and the table.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CREDIT = """
UPDATE customers_satisfactionresult sr
SET store_id = c.store_id,
    service_advisor = COALESCE((
        SELECT ro.service_advisor
        FROM customers_repairorder ro JOIN customers_vehicle rv ON rv.id = ro.vehicle_id
        WHERE rv.customer_id = sr.customer_id AND ro.settle_date <= (sr.at AT TIME ZONE %(tz)s)::date
        ORDER BY ro.settle_date DESC, ro.id DESC LIMIT 1), ''),
    sales_consultant = COALESCE((
        SELECT cv.sales_consultant
        FROM customers_vehicle cv
        WHERE cv.customer_id = sr.customer_id AND cv.delivery_date <= (sr.at AT TIME ZONE %(tz)s)::date
        ORDER BY cv.delivery_date DESC, cv.id DESC LIMIT 1), '')
FROM customers_customer c
WHERE c.id = sr.customer_id AND sr.store_id IS NULL
"""

BUILD = """
DELETE FROM customers_satisfactionmonth;
INSERT INTO customers_satisfactionmonth
    (month, store_id, dimension, key, results, scored, score_sum, dissatisfied,
     score_1, score_2, score_3, score_4, score_5)
SELECT date_trunc('month', sr.at AT TIME ZONE %(tz)s)::date, sr.store_id, d.dimension, d.key,
       count(*), count(sr.score), COALESCE(sum(sr.score), 0),
       count(*) FILTER (WHERE sr.verdict = 'dissatisfied'),
       count(*) FILTER (WHERE sr.score = 1), count(*) FILTER (WHERE sr.score = 2),
       count(*) FILTER (WHERE sr.score = 3), count(*) FILTER (WHERE sr.score = 4),
       count(*) FILTER (WHERE sr.score = 5)
FROM customers_satisfactionresult sr
CROSS JOIN LATERAL (VALUES
    ('rule', CASE WHEN sr.source = 'delivery_interview' THEN 'source:' || sr.source
                  WHEN sr.rule_code <> '' THEN sr.rule_code ELSE 'source:' || sr.source END),
    ('advisor', sr.service_advisor),
    ('consultant', sr.sales_consultant)) AS d (dimension, key)
WHERE sr.store_id IS NOT NULL
GROUP BY 1, 2, 3, 4;
"""


def credit(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREDIT, {"tz": settings.TIME_ZONE})
        # The new foreign key's checks of the updated rows now, not at the commit: the table is
        # altered again below, which PostgreSQL refuses while checks on it are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def build(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BUILD, {"tz": settings.TIME_ZONE})


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_auditlog_club_referral"),
        ("customers", "0023_reference_profile_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="satisfactionresult",
            name="store",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="crm.store",
                verbose_name="store of record",
            ),
        ),
        migrations.AddField(
            model_name="satisfactionresult",
            name="service_advisor",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=50, verbose_name="service advisor of record"
            ),
        ),
        migrations.AddField(
            model_name="satisfactionresult",
            name="sales_consultant",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=50, verbose_name="sales consultant of record"
            ),
        ),
        migrations.RunPython(credit, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="satisfactionresult",
            index=models.Index(fields=["store", "at"], name="satisfaction_store_at_idx"),
        ),
        migrations.AddIndex(
            model_name="satisfactionresult",
            index=models.Index(
                condition=models.Q(("store__isnull", True)), fields=["at"], name="satisfaction_unattributed_idx"
            ),
        ),
        migrations.CreateModel(
            name="SatisfactionMonth",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField(verbose_name="month")),
                ("dimension", models.CharField(max_length=10, verbose_name="grouped by")),
                ("key", models.CharField(blank=True, max_length=60, verbose_name="group")),
                ("results", models.PositiveIntegerField(default=0, verbose_name="results")),
                ("scored", models.PositiveIntegerField(default=0, verbose_name="results with a score")),
                ("score_sum", models.PositiveIntegerField(default=0, verbose_name="sum of the scores")),
                ("dissatisfied", models.PositiveIntegerField(default=0, verbose_name="dissatisfied results")),
                ("score_1", models.PositiveIntegerField(default=0, verbose_name="scores of 1")),
                ("score_2", models.PositiveIntegerField(default=0, verbose_name="scores of 2")),
                ("score_3", models.PositiveIntegerField(default=0, verbose_name="scores of 3")),
                ("score_4", models.PositiveIntegerField(default=0, verbose_name="scores of 4")),
                ("score_5", models.PositiveIntegerField(default=0, verbose_name="scores of 5")),
                (
                    "store",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="crm.store",
                        verbose_name="store",
                    ),
                ),
            ],
            options={
                "verbose_name": "satisfaction figures of a month",
                "verbose_name_plural": "satisfaction figures of months",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("store", "month", "dimension", "key"),
                        name="satisfaction_month_unique",
                        violation_error_message="There is one row per store, month and group.",
                    )
                ],
            },
        ),
        migrations.RunPython(build, migrations.RunPython.noop, elidable=True),
    ]

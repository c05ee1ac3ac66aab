"""The closed loop reads satisfaction results from one table (customers.SatisfactionResult): copy
into it every call attempt with a score or the 不满意 tick and every satisfaction reply to a repair SMS
recorded before, so no history is lost (docs/closed-loop.md).

Safe to run on a live database and again: it only inserts, one row per reference
(``callattempt:<id>``, ``inboundsms:<id>``), and ``ON CONFLICT DO NOTHING`` skips the rows the
application has recorded already. The listeners are not told (the complaints of those old results
were logged by hand at the time); reversing it deletes nothing.
"""

from django.db import migrations

VERDICT = """
    CASE WHEN {dissatisfied} THEN 'dissatisfied'
         WHEN {score} >= 4 THEN 'satisfied'
         ELSE 'neutral' END
"""
DEPARTMENT = "CASE WHEN {code} IN ('delivery_thanks', 'delivery_day1_call') THEN 'sales' ELSE 'service' END"

CALLS = f"""
INSERT INTO customers_satisfactionresult
    (customer_id, at, score, verdict, department, source, rule_code, statement, reference, recorded_by_id)
SELECT ca.customer_id, ca.at, ca.satisfaction,
       {VERDICT.format(dissatisfied="ca.is_dissatisfied OR ca.satisfaction <= 2", score="ca.satisfaction")},
       {DEPARTMENT.format(code="t.code")},
       'call', t.code,
       left(concat_ws(E'\\n',
           (SELECT string_agg(coalesce(r.questionnaire ->> a.key::int, a.key) || ': ' || a.value, E'\\n'
                              ORDER BY a.key::int)
            FROM jsonb_each_text(CASE WHEN jsonb_typeof(ca.answers) = 'object' THEN ca.answers ELSE '{{}}' END) a
            WHERE a.key ~ '^[0-9]+$' AND a.value <> ''),
           nullif(btrim(ca.notes), '')), 4000),
       'callattempt:' || ca.id, ca.agent_id
FROM followups_callattempt ca
JOIN followups_followuptask t ON t.id = ca.task_id
JOIN followups_followuprule r ON r.id = t.rule_id
WHERE ca.satisfaction IS NOT NULL OR ca.is_dissatisfied
ON CONFLICT (reference) DO NOTHING
"""

REPLIES = f"""
INSERT INTO customers_satisfactionresult
    (customer_id, at, score, verdict, department, source, rule_code, statement, reference, recorded_by_id)
SELECT ib.customer_id, ib.received_at, ib.satisfaction,
       {VERDICT.format(dissatisfied="ib.satisfaction <= 2", score="ib.satisfaction")},
       {DEPARTMENT.format(code="coalesce(m.code, '')")},
       'sms_reply', coalesce(m.code, ''), '短信回复：' || ib.text, 'inboundsms:' || ib.id, NULL
FROM followups_inboundsms ib
LEFT JOIN followups_smsmessage m ON m.id = ib.in_reply_to_id
WHERE ib.action = 'satisfaction' AND ib.satisfaction BETWEEN 1 AND 5 AND ib.customer_id IS NOT NULL
ON CONFLICT (reference) DO NOTHING
"""


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0015_satisfaction_results"),
        ("followups", "0005_owned_tasks"),
    ]

    operations = [
        migrations.RunSQL(CALLS, migrations.RunSQL.noop),
        migrations.RunSQL(REPLIES, migrations.RunSQL.noop),
    ]

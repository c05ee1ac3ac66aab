"""Typed questionnaire questions (followups/questionnaires.py).

A rule's questionnaire was a list of question strings; it becomes a list of ``{"text", "type",
"choices"?, "factor"?}``. A rule still asking the old default questionnaire of its code gets seed
001's typed one (scores with their satisfaction factors, yes/no, choices); a questionnaire a manager
changed keeps its questions, each a text question. The answers of earlier calls
(``{"0": "是"}``) become typed text answers that carry their question
(``{"0": {"question": …, "type": "text", "value": "是"}}``), read from the rule before it changes.
The history rows of the rules are left as they were.
"""

from django.db import migrations, models

# The questionnaires the default rules had before questions were typed (followups/defaults.py then).
OLD_DEFAULTS = {
    "delivery_thanks": [
        "请问您是车主本人吗？您的联系地址是？",
        "对于您的购买经历，总体来说还满意吗？",
        "在您使用的这段期间，您对您的爱车的总体质量情况是否满意？",
        "您购车的过程中，销售顾问对您是否礼貌？业务水平是否专业？",
        "销售顾问是否向您清楚地解释了您的汽车的特性和操作方法？",
        "销售顾问是否向您解释了车辆的保修范围和常规保养？",
        "对于我们公司的外观形象和清洁度，总体来说您是否满意？",
        "交车时，为您介绍过维修服务专员和客服专员吗？",
    ],
    "first_service_invite": ["是否已了解首保里程和时间？", "希望预约的回店日期？"],
    "post_repair_callback": [
        "对于在我们这边检修车辆的经历，总体来说您是否满意？",
        "您对我们公司的维修人员的业务水平和服务态度是否满意？",
        "车辆在进行维修之前，服务顾问是否将维修内容及费用向您进行了清楚的解释？",
        "维修中心的人员是否在承诺的时间内将您的爱车维修、保养好？",
        "交车时车辆是否清洁干净？",
        "交车时觉得付费是否物有所值？",
        "您在休息期间环境和气氛是否令您满意？",
    ],
    "insurance_renewal": ["是否在本店续保？", "是否有需要处理的小碰小擦？"],
    "warranty_expiry": ["是否愿意预约免费检查？", "希望预约的日期？"],
    "maintenance_due": ["当前行驶里程约多少公里？", "希望预约的回店日期？"],
    "lost_customer": [
        "车辆是否已转让或在其他城市使用？",
        "是否在其他专营店保养？原因是离家近、服务还是维修质量？",
        "是否在小维修厂保养？原因是价格、服务还是其他？",
    ],
    "dissatisfied_followup": ["上次的问题是否已经解决？", "您对处理结果是否满意？"],
    "inspection_due": ["是否需要本店代办年检？"],
    "delivery_day1_call": [
        "车辆使用是否正常？有无需要解答的功能操作？",
        "交车时是否向您介绍了服务顾问和首保时间里程？",
        "对交车过程总体是否满意？",
    ],
    "no_show_followup": ["未能到店的原因？", "是否需要重新预约？希望的日期？"],
}

# Seed 001's typed questionnaires that replace them (followups/defaults.py now), frozen here.
TYPED_DEFAULTS = {
    "delivery_thanks": [
        {"text": "请问您是车主本人吗？您的联系地址是？", "type": "text"},
        {"text": "对于您的购买经历，总体来说还满意吗？", "type": "score", "factor": "purchase_experience"},
        {
            "text": "在您使用的这段期间，您对您的爱车的总体质量情况是否满意？",
            "type": "score",
            "factor": "vehicle_quality",
        },
        {
            "text": "您购车的过程中，销售顾问对您是否礼貌？业务水平是否专业？",
            "type": "score",
            "factor": "consultant_courtesy",
        },
        {
            "text": "销售顾问是否向您清楚地解释了您的汽车的特性和操作方法？",
            "type": "score",
            "factor": "features_explained",
        },
        {"text": "销售顾问是否向您解释了车辆的保修范围和常规保养？", "type": "score", "factor": "warranty_explained"},
        {"text": "对于我们公司的外观形象和清洁度，总体来说您是否满意？", "type": "score", "factor": "premises"},
        {"text": "交车时，为您介绍过维修服务专员和客服专员吗？", "type": "yes_no"},
    ],
    "first_service_invite": [
        {"text": "是否已了解首保里程和时间？", "type": "yes_no"},
        {"text": "希望预约的回店日期？", "type": "text"},
    ],
    "post_repair_callback": [
        {"text": "对于在我们这边检修车辆的经历，总体来说您是否满意？", "type": "score", "factor": "repair_overall"},
        {"text": "您对我们公司的维修人员的业务水平和服务态度是否满意？", "type": "score", "factor": "repair_staff"},
        {
            "text": "车辆在进行维修之前，服务顾问是否将维修内容及费用向您进行了清楚的解释？",
            "type": "score",
            "factor": "work_explained",
        },
        {"text": "维修中心的人员是否在承诺的时间内将您的爱车维修、保养好？", "type": "score", "factor": "on_time"},
        {"text": "交车时车辆是否清洁干净？", "type": "score", "factor": "vehicle_clean"},
        {"text": "交车时觉得付费是否物有所值？", "type": "score", "factor": "value_for_money"},
        {"text": "您在休息期间环境和气氛是否令您满意？", "type": "score", "factor": "lounge"},
    ],
    "insurance_renewal": [
        {"text": "是否在本店续保？", "type": "yes_no"},
        {"text": "是否有需要处理的小碰小擦？", "type": "yes_no"},
    ],
    "warranty_expiry": [
        {"text": "是否愿意预约免费检查？", "type": "yes_no"},
        {"text": "希望预约的日期？", "type": "text"},
    ],
    "maintenance_due": [
        {"text": "当前行驶里程约多少公里？", "type": "text"},
        {"text": "希望预约的回店日期？", "type": "text"},
    ],
    "lost_customer": [
        {"text": "车辆是否已转让或在其他城市使用？", "type": "choice", "choices": ["否", "已转让", "在其他城市使用"]},
        {
            "text": "是否在其他专营店保养？原因是离家近、服务还是维修质量？",
            "type": "choice",
            "choices": ["否", "离家近", "服务", "维修质量"],
        },
        {
            "text": "是否在小维修厂保养？原因是价格、服务还是其他？",
            "type": "choice",
            "choices": ["否", "价格", "服务", "其他"],
        },
    ],
    "dissatisfied_followup": [
        {"text": "上次的问题是否已经解决？", "type": "yes_no"},
        {"text": "您对处理结果是否满意？", "type": "score", "factor": "complaint_resolution"},
    ],
    "inspection_due": [{"text": "是否需要本店代办年检？", "type": "yes_no"}],
    "delivery_day1_call": [
        {"text": "车辆使用是否正常？有无需要解答的功能操作？", "type": "text"},
        {"text": "交车时是否向您介绍了服务顾问和首保时间里程？", "type": "yes_no"},
        {"text": "对交车过程总体是否满意？", "type": "score", "factor": "delivery_process"},
    ],
    "no_show_followup": [
        {"text": "未能到店的原因？", "type": "text"},
        {"text": "是否需要重新预约？希望的日期？", "type": "text"},
    ],
}


# Answers stored as plain strings become text answers with the rule's question at that index (the
# rule's questionnaire is still the list of strings when this runs). One statement.
ANSWERS_TO_TYPED_SQL = """
    UPDATE followups_callattempt ca
    SET answers = (
        SELECT COALESCE(jsonb_object_agg(
            a.key,
            CASE WHEN jsonb_typeof(a.value) = 'string' THEN jsonb_build_object(
                'question', COALESCE(
                    CASE WHEN a.key ~ '^[0-9]{1,4}$' AND jsonb_typeof(r.questionnaire) = 'array'
                         THEN r.questionnaire ->> a.key::int END, ''),
                'type', 'text',
                'value', a.value #>> '{}')
            ELSE a.value END
        ), '{}'::jsonb)
        FROM jsonb_each(ca.answers) a
    )
    FROM followups_followuptask t
    JOIN followups_followuprule r ON r.id = t.rule_id
    WHERE t.id = ca.task_id AND jsonb_typeof(ca.answers) = 'object' AND ca.answers <> '{}'::jsonb
      AND EXISTS (SELECT 1 FROM jsonb_each(ca.answers) x WHERE jsonb_typeof(x.value) = 'string')
"""

ANSWERS_TO_STRINGS_SQL = """
    UPDATE followups_callattempt ca
    SET answers = (
        SELECT COALESCE(jsonb_object_agg(
            a.key,
            CASE WHEN jsonb_typeof(a.value) = 'object' THEN to_jsonb(COALESCE(a.value ->> 'value', '')) ELSE a.value END
        ), '{}'::jsonb)
        FROM jsonb_each(ca.answers) a
    )
    WHERE jsonb_typeof(ca.answers) = 'object' AND ca.answers <> '{}'::jsonb
"""


def typed_questionnaire(code, questionnaire):
    """The questionnaire of a rule with its questions typed."""
    if not isinstance(questionnaire, list):
        return []
    if questionnaire == OLD_DEFAULTS.get(code):
        return TYPED_DEFAULTS[code]
    typed = []
    for item in questionnaire:
        if isinstance(item, str):
            if item.strip():
                typed.append({"text": item.strip(), "type": "text"})
        elif isinstance(item, dict):
            typed.append(item)
    return typed


def to_typed(apps, schema_editor):
    FollowupRule = apps.get_model("followups", "FollowupRule")
    schema_editor.execute(ANSWERS_TO_TYPED_SQL)
    changed = []
    for rule in FollowupRule.objects.only("pk", "code", "questionnaire").iterator():
        typed = typed_questionnaire(rule.code, rule.questionnaire)
        if typed != rule.questionnaire:
            rule.questionnaire = typed
            changed.append(rule)
    FollowupRule.objects.bulk_update(changed, ["questionnaire"], batch_size=500)


def to_strings(apps, schema_editor):
    FollowupRule = apps.get_model("followups", "FollowupRule")
    changed = []
    for rule in FollowupRule.objects.only("pk", "questionnaire").iterator():
        if isinstance(rule.questionnaire, list):
            rule.questionnaire = [
                item.get("text", "") if isinstance(item, dict) else item for item in rule.questionnaire
            ]
            changed.append(rule)
    FollowupRule.objects.bulk_update(changed, ["questionnaire"], batch_size=500)
    schema_editor.execute(ANSWERS_TO_STRINGS_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("followups", "0009_queue_order_and_completed_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="followuprule",
            name="questionnaire",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text='The questions asked on the call, each {"text", "type"} with type score, yes_no, choice or '
                'text; a choice question lists its "choices", a score question may name its satisfaction "factor".',
                verbose_name="questionnaire",
            ),
        ),
        migrations.AlterField(
            model_name="historicalfollowuprule",
            name="questionnaire",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text='The questions asked on the call, each {"text", "type"} with type score, yes_no, choice or '
                'text; a choice question lists its "choices", a score question may name its satisfaction "factor".',
                verbose_name="questionnaire",
            ),
        ),
        migrations.RunPython(to_typed, to_strings),
    ]

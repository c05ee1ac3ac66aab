"""The default rules of docs/followups.md, with the scripts and questionnaires of seed 001 and
the care calendar of seed 004. They are the data a store starts with; managers edit them per store.

The texts are Chinese on purpose: they are what an agent reads to a customer and what a customer
receives, not interface strings.
"""

from followups.choices import Channel, RuleCode, WorkedBy


def _score(text: str, factor: str = "") -> dict:
    return {"text": text, "type": "score", **({"factor": factor} if factor else {})}


def _yes_no(text: str) -> dict:
    return {"text": text, "type": "yes_no"}


def _choice(text: str, *choices: str) -> dict:
    return {"text": text, "type": "choice", "choices": list(choices)}


def _text(text: str) -> dict:
    return {"text": text, "type": "text"}


# Seed 001's 维修回访问卷 (questions 1–7; the closing words are the script's): each a 1–5 score of
# one of the service satisfaction factors the OEM counts.
REPAIR_QUESTIONNAIRE = [
    _score("对于在我们这边检修车辆的经历，总体来说您是否满意？", "repair_overall"),
    _score("您对我们公司的维修人员的业务水平和服务态度是否满意？", "repair_staff"),
    _score("车辆在进行维修之前，服务顾问是否将维修内容及费用向您进行了清楚的解释？", "work_explained"),
    _score("维修中心的人员是否在承诺的时间内将您的爱车维修、保养好？", "on_time"),
    _score("交车时车辆是否清洁干净？", "vehicle_clean"),
    _score("交车时觉得付费是否物有所值？", "value_for_money"),
    _score("您在休息期间环境和气氛是否令您满意？", "lounge"),
]
# Seed 001's 销售回访问卷: the identity check, six scores with the factors of the delivery interview
# (customers/selectors/interviews.py, the same codes so both can be read side by side), and whether
# the service staff were introduced.
SALES_QUESTIONNAIRE = [
    _text("请问您是车主本人吗？您的联系地址是？"),
    _score("对于您的购买经历，总体来说还满意吗？", "purchase_experience"),
    _score("在您使用的这段期间，您对您的爱车的总体质量情况是否满意？", "vehicle_quality"),
    _score("您购车的过程中，销售顾问对您是否礼貌？业务水平是否专业？", "consultant_courtesy"),
    _score("销售顾问是否向您清楚地解释了您的汽车的特性和操作方法？", "features_explained"),
    _score("销售顾问是否向您解释了车辆的保修范围和常规保养？", "warranty_explained"),
    _score("对于我们公司的外观形象和清洁度，总体来说您是否满意？", "premises"),
    _yes_no("交车时，为您介绍过维修服务专员和客服专员吗？"),
]
CLOSING = (
    "结束语——不满意：很高兴您将意见反馈给我们，我会将您的建议马上反映给相应部门，保证我们会尽全力解决您所抱怨的问题。再见！"
    "\n满意：感谢您对我们的配合及支持。若有意见或建议，请与我们的客服中心联系，电话：{store_phone}。再次感谢。再见！"
)
OPENING = "您好，{name}先生/女士，我是{store}客服专员，"

DEFAULT_RULES: dict[str, dict] = {
    RuleCode.DELIVERY_THANKS: {
        "channel": Channel.PHONE,
        "offset_days": 3,
        "priority": 2,
        "script": OPENING
        + "感谢您于{date}在我店购买了爱车（{plate}），现在是否方便占用您2分钟回访您一下？\n"
        + CLOSING,
        "questionnaire": SALES_QUESTIONNAIRE,
        "sms_template": "尊敬的{name}：非常感谢您在本店购车，服务热线{store_phone}，欢迎您在需要的时候拨打。",
    },
    RuleCode.FIRST_SERVICE_INVITE: {
        "channel": Channel.PHONE,
        "offset_days": 7,
        "priority": 4,
        "script": OPENING + "提醒您爱车（{plate}）的首次保养，欢迎您提前预约回店，我们为您安排绿色通道。",
        "questionnaire": [_yes_no("是否已了解首保里程和时间？"), _text("希望预约的回店日期？")],
        "sms_template": "尊敬的{name}：您的爱车{plate}即将到首保时间，欢迎预约回店保养，电话{store_phone}。",
    },
    RuleCode.POST_REPAIR_CALLBACK: {
        "channel": Channel.PHONE,
        "offset_days": 3,
        "priority": 1,
        "script": OPENING
        + "您的爱车（{plate}）于{date}在我们公司进行了维修保养，现在是否方便占用您2分钟回访您一下？\n"
        + CLOSING,
        "questionnaire": REPAIR_QUESTIONNAIRE,
        "sms_template": "尊敬的{name}：您的爱车于{date}在本店维修，请回复1-5为维修质量打分（5很好，1很差），谢谢！",
    },
    RuleCode.INSURANCE_RENEWAL: {
        "channel": Channel.PHONE,
        "offset_days": -45,
        "priority": 3,
        "script": OPENING + "您爱车（{plate}）的保险将于{date}到期，今年续保有优惠政策，有小碰小擦也可以走保险处理。",
        "questionnaire": [_yes_no("是否在本店续保？"), _yes_no("是否有需要处理的小碰小擦？")],
        "sms_template": "尊敬的{name}：您爱车{plate}的保险将于{date}到期，请带齐行驶证、保险卡到本店办理续保。",
    },
    RuleCode.WARRANTY_EXPIRY: {
        "channel": Channel.PHONE,
        "offset_days": -90,
        "priority": 5,
        "script": OPENING + "您爱车（{plate}）的厂家质保将于{date}到期，邀请您回店做一次免费检查。",
        "questionnaire": [_yes_no("是否愿意预约免费检查？"), _text("希望预约的日期？")],
        "sms_template": "尊敬的{name}：您爱车{plate}的质保将于{date}到期，欢迎回店免费检查，电话{store_phone}。",
    },
    RuleCode.MAINTENANCE_DUE: {
        "channel": Channel.PHONE,
        "offset_days": -7,
        "priority": 4,
        "script": OPENING + "您爱车（{plate}）的下次保养时间约为{date}，为确保出行顺畅，欢迎预约回店保养。",
        "questionnaire": [_text("当前行驶里程约多少公里？"), _text("希望预约的回店日期？")],
        "sms_template": "尊敬的{name}：您的爱车{plate}下次保养约在{date}，请届时到本店保养。",
    },
    RuleCode.BIRTHDAY: {
        "channel": Channel.SMS,
        "offset_days": -6,
        "priority": 8,
        "script": "",
        "questionnaire": [],
        "sms_template": "尊敬的{name}：祝您生日快乐、事业成功、天天开心、出入平安！生日当天回店享会员专属优惠。",
    },
    RuleCode.HOLIDAY_GREETING: {
        "channel": Channel.SMS,
        "offset_days": -6,
        "priority": 8,
        "script": "",
        "questionnaire": [],
        "sms_template": "尊敬的{name}：祝您{holiday}快乐！节前欢迎到本店进行一次例行检测，保障出行安全。",
    },
    RuleCode.LOST_CUSTOMER: {
        "channel": Channel.PHONE,
        "offset_days": 0,
        "priority": 6,
        "script": OPENING + "您已有一段时间没有回店了，想了解一下原因，我们很希望再有机会为您服务。",
        "questionnaire": [
            _choice("车辆是否已转让或在其他城市使用？", "否", "已转让", "在其他城市使用"),
            _choice("是否在其他专营店保养？原因是离家近、服务还是维修质量？", "否", "离家近", "服务", "维修质量"),
            _choice("是否在小维修厂保养？原因是价格、服务还是其他？", "否", "价格", "服务", "其他"),
        ],
        "sms_template": "尊敬的{name}：好久不见，回店出示本短信可享专属接待和专属优惠，电话{store_phone}。",
    },
    RuleCode.POINTS_EXPIRY: {
        "channel": Channel.SMS,
        "offset_days": 0,
        "offset_months": 10,
        "priority": 7,
        "script": "",
        "questionnaire": [],
        "sms_template": "尊敬的{name}：您的会员卡尚有{points}积分即将到期，欢迎回店使用，避免损失。",
    },
    RuleCode.DISSATISFIED_FOLLOWUP: {
        "channel": Channel.PHONE,
        "offset_days": 0,
        "priority": 1,
        "script": OPENING + "上月您对我们的服务有不满意的地方，我们想了解问题是否已解决，并为您提供补偿性服务。",
        "questionnaire": [
            _yes_no("上次的问题是否已经解决？"),
            _score("您对处理结果是否满意？", "complaint_resolution"),
        ],
        "sms_template": "",
    },
    RuleCode.EVENT_NOTICE: {
        "channel": Channel.SMS,
        "offset_days": -7,
        "priority": 7,
        "script": "",
        "questionnaire": [],
        "sms_template": "尊敬的{name}：本店将于{date}举办车主活动，特邀您光临，如参加请回复Y，谢谢！",
    },
    # Seed 001: reminders of the inspection (年检) among the care reminders that please the owner.
    RuleCode.INSPECTION_DUE: {
        "channel": Channel.SMS,
        "offset_days": -30,
        "priority": 6,
        "script": OPENING + "您爱车（{plate}）的年检将于{date}到期，请提前准备行驶证、交强险保单，本店可代办年检。",
        "questionnaire": [_yes_no("是否需要本店代办年检？")],
        "sms_template": "尊敬的{name}：您爱车{plate}的年检将于{date}到期，请提前办理，本店可代办年检，"
        "电话{store_phone}。",
    },
    # Seeds 000/001: the sales consultant calls the buyer the day after the handover.
    RuleCode.DELIVERY_DAY1_CALL: {
        "channel": Channel.PHONE,
        "offset_days": 1,
        "priority": 2,
        "worked_by": WorkedBy.SALES_CONSULTANT,
        "script": "您好，{name}先生/女士，我是{store}为您交车的销售顾问，"
        "您昨天（{date}）提了爱车（{plate}），用车还顺利吗？车辆的功能操作还有什么不清楚的地方吗？\n"
        "如有任何问题请随时联系我，首次保养时间和里程我也会提前提醒您。\n" + CLOSING,
        "questionnaire": [
            _text("车辆使用是否正常？有无需要解答的功能操作？"),
            _yes_no("交车时是否向您介绍了服务顾问和首保时间里程？"),
            _score("对交车过程总体是否满意？", "delivery_process"),
        ],
        "sms_template": "尊敬的{name}：感谢您选择本店，爱车{plate}使用中如有任何问题请随时联系您的销售顾问，"
        "服务热线{store_phone}。",
    },
    # The appointments' rules (desk.md): their builders come with the appointments.
    RuleCode.APPOINTMENT_REMINDER: {
        "channel": Channel.SMS,
        "offset_days": 0,  # the working day before the appointment date
        "priority": 3,
        "script": "",
        "questionnaire": [],
        "sms_template": "尊敬的{name}：提醒您明天起的预约：{date} {time}到{store}为爱车{plate}服务，"
        "确认请回复Y，取消请回复N，如需改期请致电{store_phone}。",
    },
    RuleCode.NO_SHOW_FOLLOWUP: {
        "channel": Channel.PHONE,
        "offset_days": 1,
        "priority": 1,
        "script": OPENING + "您预约了{date}到店服务，但当天没有见到您，想了解一下原因，是否需要为您重新预约？",
        "questionnaire": [_text("未能到店的原因？"), _text("是否需要重新预约？希望的日期？")],
        "sms_template": "",
    },
}

#: The confirmation sent when a visit is booked (any way but a walk-in): the same fields as the
#: rules' templates, {date} and {time} being the booking's.
APPOINTMENT_CONFIRMATION_TEMPLATE = (
    "尊敬的{name}：您已预约{date} {time}到{store}为爱车{plate}服务，确认请回复Y，取消请回复N，"
    "如需改期请致电{store_phone}。"
)

#: Appended to every SMS after the text; the signature 【…】 goes in front.
SMS_OPT_OUT_TEXT = "回T退订"

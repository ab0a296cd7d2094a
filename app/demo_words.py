"""Word lists and reference data for the demo records: cities, company words, job titles,
products, deal and case texts, in Chinese and English; phone numbers and identifiers with
valid check characters."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.demo_values import Ctx

# city, province, postal code, phone area code, unified social credit code region
ZH_CITIES = tuple(tuple(line.split()) for line in """
北京市 北京市 100020 010 110105
上海市 上海市 200120 021 310115
深圳市 广东省 518057 0755 440305
广州市 广东省 510623 020 440106
杭州市 浙江省 310052 0571 330108
南京市 江苏省 210019 025 320105
苏州市 江苏省 215021 0512 320505
成都市 四川省 610041 028 510107
武汉市 湖北省 430074 027 420111
西安市 陕西省 710065 029 610113
天津市 天津市 300457 022 120116
重庆市 重庆市 401121 023 500112
青岛市 山东省 266071 0532 370212
厦门市 福建省 361008 0592 350206
长沙市 湖南省 410205 0731 430104
""".strip().splitlines())
NO_CITY = ("", "", "", "", "")
ZH_SUFFIX = {
    "technology": ("科技有限公司", "信息技术有限公司", "软件股份有限公司"),
    "manufacturing": ("机械制造有限公司", "精密制造有限公司", "电子股份有限公司"),
    "finance": ("金融服务有限公司", "投资管理有限公司"),
    "retail": ("商贸有限公司", "零售连锁有限公司"),
    "healthcare": ("医疗器械有限公司", "生物医药股份有限公司"),
    "education": ("教育科技有限公司",),
    "logistics": ("物流有限公司", "供应链管理有限公司"),
    "energy": ("新能源有限公司", "能源集团有限公司"),
    "real_estate": ("置业有限公司",),
    "media": ("传媒有限公司", "文化传播有限公司"),
    "government": ("信息中心",),
    "other": ("实业有限公司",),
}
EN_WORD = {
    "technology": ("Software", "Systems", "Labs"), "manufacturing": ("Manufacturing", "Industries"),
    "finance": ("Capital", "Financial"), "retail": ("Retail", "Brands"),
    "healthcare": ("Health", "Medical"), "education": ("Learning", "Education"),
    "logistics": ("Logistics", "Freight"), "energy": ("Energy", "Power"),
    "real_estate": ("Properties", "Realty"), "media": ("Media", "Studios"),
    "government": ("Public Services",), "other": ("Holdings", "Group"),
}
DOMAIN_WORD = {"technology": "tech", "manufacturing": "mfg", "finance": "capital",
               "retail": "mall", "healthcare": "med", "education": "edu", "logistics": "wl",
               "energy": "energy", "real_estate": "estate", "media": "media", "government": "gov",
               "other": "group"}
INDUSTRY_WEIGHTS = {"technology": 20, "manufacturing": 18, "finance": 8, "retail": 10,
                    "healthcare": 8, "education": 6, "logistics": 7, "energy": 5,
                    "real_estate": 4, "media": 5, "government": 4, "other": 5}
ZH_JOBS = (("总经理", "总经办"), ("采购经理", "采购部"), ("信息化总监", "信息中心"),
           ("财务总监", "财务部"), ("销售副总裁", "销售部"), ("市场经理", "市场部"),
           ("技术负责人", "研发部"), ("运营总监", "运营部"), ("项目经理", "项目管理部"),
           ("客服主管", "客户服务部"))
EN_JOBS = (("CEO", "Executive"), ("Procurement Manager", "Procurement"),
           ("IT Director", "IT"), ("CFO", "Finance"), ("VP of Sales", "Sales"),
           ("Marketing Manager", "Marketing"), ("Head of Engineering", "Engineering"),
           ("Operations Director", "Operations"), ("Project Manager", "PMO"),
           ("Customer Service Lead", "Customer Service"))
SOURCES = {"web": 25, "referral": 15, "trade_show": 12, "advertisement": 8, "partner": 10,
           "cold_call": 10, "wechat": 15, "other": 5}
ZH_MOBILE = ("138", "139", "135", "136", "137", "150", "151", "158", "159", "182", "186",
             "187", "188", "130", "131", "132", "155", "133", "153", "177", "180", "189", "199")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
PRODUCTS = (  # code, name, family, unit, list price, cost
    ("SW-CRM-STD", "云CRM 标准版（用户/年）", "software", "license", 1200, 180),
    ("SW-CRM-PRO", "云CRM 专业版（用户/年）", "software", "license", 2400, 300),
    ("SW-CRM-ENT", "CRM Enterprise Edition (user/year)", "software", "license", 4800, 520),
    ("SW-MKT-AUTO", "Marketing Automation Add-on", "software", "set", 36000, 6000),
    ("SW-BI", "数据分析 BI 模块", "software", "set", 24000, 4000),
    ("SW-MOBILE", "移动端 App 授权", "software", "license", 600, 60),
    ("SW-API", "API Access Pack", "software", "set", 12000, 800),
    ("HW-KIOSK", "智能客服一体机", "hardware", "piece", 18000, 11000),
    ("HW-HEADSET", "Call Center Headset", "hardware", "piece", 680, 320),
    ("HW-EDGE", "Edge Server", "hardware", "set", 45000, 31000),
    ("SV-IMPL", "实施顾问服务", "services", "hour", 1200, 500),
    ("SV-MIGRATE", "数据迁移服务", "services", "set", 30000, 12000),
    ("SV-DEV", "Custom Development", "services", "hour", 1500, 650),
    ("SV-INTEG", "系统集成服务", "services", "set", 50000, 22000),
    ("SP-STD", "标准运维支持（月）", "support", "month", 5000, 1500),
    ("SP-PREMIUM", "Premium Support 24x7", "support", "month", 12000, 4500),
    ("SP-ONSITE", "驻场支持服务", "support", "month", 25000, 16000),
    ("TR-ADMIN", "管理员培训", "training", "set", 8000, 2500),
    ("TR-WORKSHOP", "End-user Training Workshop", "training", "set", 6000, 2000),
    ("TR-ONLINE", "在线培训课程", "training", "license", 300, 30),
)

STAGES = {"prospecting": 15, "qualification": 12, "needs_analysis": 10, "proposal": 10,
          "negotiation": 8, "won": 15, "lost": 10}
NEXT_STEPS = (("安排产品演示", "发送报价单", "确认采购流程", "约见决策人"),
              ("Schedule a demo", "Send the proposal", "Confirm procurement steps",
               "Meet the decision maker"))
ACCOUNT_NOTES = (("{s}是{c}地区的重要客户。", "通过展会认识，{s}对数字化转型很感兴趣。"),
                 ("Long-standing relationship with {s}.", "Met {s} at a trade show."))
CASE_DETAILS = (("客户来电反馈，需尽快处理。", "客户通过微信群反馈，影响多名用户。"),
                ("Reported by the customer; please follow up.", "Affects several users."))
RESOLUTIONS = (("已远程协助客户完成配置。", "已修复并发布补丁。", "已向客户说明操作步骤。"),
               ("Configured remotely with the customer.", "Fixed in the latest patch.",
                "Explained the steps to the customer."))
ZH_PROJECTS = ("CRM 系统实施", "数据中台建设", "年度软件订阅", "ERP 集成项目", "客服中心升级",
               "营销自动化平台", "私有化部署", "二期扩容")
EN_PROJECTS = ("CRM Rollout", "Annual Subscription", "Data Platform", "Support Renewal",
               "Analytics Add-on", "Phase 2 Expansion", "Cloud Migration")

SLA_HOURS = {"urgent": 4, "high": 24, "medium": 72, "low": 120}
CASE_SUBJECTS = {
    "question": (("如何导出客户列表？", "报表权限如何配置？"),
                 ("How do I export the account list?", "How to set up report permissions?")),
    "problem": (("移动端无法登录", "数据同步失败", "页面加载缓慢"),
                ("Cannot log in on mobile", "Data sync fails overnight", "Pages load slowly")),
    "feature_request": (("希望支持企业微信集成", "需要批量修改功能"),
                        ("Please add Slack integration", "Need a bulk edit feature")),
    "complaint": (("实施进度延迟", "客服响应太慢"),
                  ("Implementation is late", "Slow support response")),
    "billing": (("发票抬头错误", "续费金额有疑问"),
                ("Wrong invoice address", "Question about renewal price")),
}

SUBJECTS = {
    "call": (("致电确认需求", "电话回访", "确认预算和时间表"),
             ("Discovery call", "Follow-up call", "Budget check call")),
    "meeting": (("产品演示", "商务谈判会议", "项目启动会"),
                ("Product demo", "Pricing negotiation", "Kick-off meeting")),
    "task": (("准备报价单", "发送合同草案", "整理需求文档"),
             ("Prepare the quote", "Send the draft contract", "Write up requirements")),
    "email": (("发送产品资料", "跟进邮件", "发送会议纪要"),
              ("Send the brochure", "Follow-up email", "Send meeting notes")),
}


def with_uscc_check(body: str) -> str:
    """Append the check character of a unified social credit code (GB 32100-2015)."""
    total = sum(USCC_ALPHABET.index(ch) * pow(3, i, 31) for i, ch in enumerate(body))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


def is_zh(s: str | None) -> bool:
    return bool(s) and any("\u4e00" <= ch <= "\u9fff" for ch in s or "")


def zh_mobile(ctx: Ctx) -> str:
    return ctx.pick(ZH_MOBILE) + f"{ctx.rnd.randrange(10**8):08d}"


def phone(ctx: Ctx, lang: str, area: str = "010") -> str:
    r = ctx.rnd
    if lang == "zh":
        return f"{area}-{r.randint(2, 8)}{r.randrange(10**7):07d}"
    return f"+1 ({r.randint(201, 989)}) {r.randint(200, 999)}-{r.randrange(10**4):04d}"


def cn_id_number(i: int, born: date) -> str:
    """A made-up 18-character resident ID number with a valid check character (GB 11643),
    the same for the same `i` (drawn without touching the random stream)."""
    body = f"{110101 + (i * 7919) % 8000:06d}{born:%Y%m%d}{(i * 37) % 1000:03d}"
    total = sum(int(d) * (2 ** (17 - k) % 11) for k, d in enumerate(body))
    return body + "10X98765432"[total % 11]

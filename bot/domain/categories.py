"""What a service request can be about: the services of Article 4 and Article 10 of 51号.

The ids are stored with each request and appear in reports; keep them stable.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Language

__all__ = ["CATEGORIES", "Category", "by_id", "guess"]


@dataclass(frozen=True, slots=True)
class Category:
    """One kind of service."""

    id: str
    zh: str
    en: str
    article: str
    keywords: tuple[str, ...] = ()
    """Words that, in a request's text, say it is about this kind (for ``/new text``)."""
    workdays: int = 10
    """Working days to the reply (Article 7: generally 10)."""

    def label(self, language: Language) -> str:
        """The category's name in ``language``."""
        return self.en if language is Language.EN else self.zh


CATEGORIES: tuple[Category, ...] = (
    Category(
        "registration",
        "工商注册、证照办理",
        "Registration and licences",
        "第四条（一）",
        ("注册", "执照", "证照", "营业执照", "办证", "登记"),
    ),
    Category("policy", "政策咨询", "Policy questions", "第四条（二）", ("政策", "咨询", "文件")),
    Category(
        "projects",
        "项目申报、评优奖励、补贴发放",
        "Projects, awards and subsidies",
        "第四条（三）",
        ("申报", "补贴", "奖励", "评优", "资助", "项目"),
    ),
    Category(
        "departments",
        "市场监管、财税、金融、土地、环保、人社等事项",
        "Tax, finance, land, environment, HR and other departments",
        "第四条（四）",
        ("税", "财税", "土地", "环保", "社保", "人社", "市场监管"),
    ),
    Category(
        "testing",
        "检测认证",
        "Testing and certification",
        "第十条（一）",
        ("检测", "测试", "认证", "检验", "标准"),
    ),
    Category(
        "tech-transfer",
        "成果转化、技术转移",
        "Technology transfer",
        "第十条（二）",
        ("成果转化", "技术转移", "技术交易"),
    ),
    Category(
        "tech-info",
        "科技信息咨询",
        "Technology information",
        "第十条（三）",
        ("查新", "文献", "情报", "市场调查", "产业研究"),
    ),
    Category(
        "equipment", "大型仪器设备共享", "Shared large equipment", "第十条（四）", ("仪器", "设备")
    ),
    Category(
        "ip",
        "知识产权",
        "Intellectual property",
        "第十条（五）",
        ("知识产权", "专利", "商标", "版权", "维权"),
    ),
    Category(
        "talent",
        "人才引进与培训",
        "Talent and training",
        "第十条（六）",
        ("人才", "培训", "招聘", "人力资源"),
    ),
    Category(
        "finance",
        "投融资、担保等科技金融",
        "Investment and finance",
        "第十条（七）",
        ("投资", "融资", "贷款", "担保", "天使", "股权"),
    ),
    Category(
        "mentoring",
        "创业辅导、企业孵化",
        "Mentoring and incubation",
        "第十条（八）",
        ("导师", "辅导", "孵化"),
    ),
    Category(
        "professional",
        "财务、法律等专业服务",
        "Accounting, legal and other professional services",
        "第十条（九）",
        ("财务", "法律", "会计", "营销", "管理咨询"),
    ),
    Category(
        "events",
        "创业活动策划组织",
        "Events for entrepreneurs",
        "第十条（十）",
        ("活动", "论坛", "会议", "路演", "展示"),
    ),
    Category("other", "其他", "Other", "第四条（四）"),
)

_BY_ID = {category.id: category for category in CATEGORIES}


def by_id(category_id: str) -> Category:
    """The category with this id; unknown ids (from an older release) read as "other"."""
    return _BY_ID.get(category_id, _BY_ID["other"])


def guess(text: str) -> Category:
    """The category whose keywords ``text`` mentions most; "other" when none."""
    best, hits = _BY_ID["other"], 0
    for category in CATEGORIES:
        found = sum(1 for word in category.keywords if word in text)
        if found > hits:
            best, hits = category, found
    return best

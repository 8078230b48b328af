"""What the bot says when it answers a policy question, in both languages."""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Language

__all__ = ["FAQ_EN", "FAQ_ZH", "FaqTexts", "faq_texts_for"]


@dataclass(frozen=True, slots=True)
class FaqTexts:
    """What the bot says to a message that its knowledge base does not simply answer."""

    chatter: dict[str, str]
    """By kind of chatter (``knowledge.reading.Chatter``): greeting, thanks, goodbye, identity,
    human, insult, acknowledgement."""
    not_stated: dict[str, str]
    """By kind of fact asked (``knowledge.model.Asks``) that the policy does not state."""
    nearest: str
    """Before the nearest facts, after a ``not_stated`` line."""
    elsewhere: str
    other_district: str
    """A question about one district answered from another district's plan: said first."""
    off_topic: str
    examples: tuple[str, ...]
    """Questions the bot answers, shown with ``off_topic``."""
    lapsed: str
    """One line under an answer drawn from a measure past its validity."""


FAQ_ZH = FaqTexts(
    chatter={
        "greeting": (
            "您好！我是众创助手，可以解答众创空间相关政策，也可以帮您把问题转给服务专员。"
            "请直接输入您的问题。"
        ),
        "thanks": "不客气！还有问题随时问我。",
        "goodbye": "好的，祝您创业顺利！有问题随时来问。",
        "identity": (
            "我是众创助手，天津市众创空间的政策问答机器人：解答市科委津科创〔2015〕51号办法"
            "和宝坻区众创空间方案的问题，答不了的帮您提交给服务专员。"
        ),
        "human": (
            "好的，我帮您转给服务专员。点下面的按钮，说说您要办的事，专员一般在 10 个工作日内答复。"
        ),
        "insult": "抱歉没帮上忙。换个说法再问一次试试；想请服务专员来答，发“转人工”就行。",
        "acknowledgement": "好的。还有其他问题，直接发给我就行。",
    },
    not_stated={
        "how-much": "政策里没有规定具体的金额、利率或比例。",
        "how-long": "政策里没有规定这个期限。",
        "when": "政策里没有写明具体的时间。",
        "where": "政策里没有写明具体的地点。",
        "who": "政策里没有写明由哪个部门或谁负责这件事。",
        "conditions": "政策里没有规定这件事的条件或要求。",
    },
    nearest="相关的规定是：",
    elsewhere=(
        "我只能解答天津市众创空间的政策（市科委津科创〔2015〕51号办法和宝坻区的方案）。"
        "“{place}”的政策请咨询当地的主管部门。"
    ),
    other_district="这是{area}方案里的规定，只适用于{area}；{district}的做法政策里没有写。",
    off_topic="这个我帮不上忙 🙂 我只解答天津市众创空间的相关政策和服务，比如：",
    examples=("众创空间是什么？", "服务专员多久给我答复？", "宝坻区有哪些众创空间？"),
    lapsed=(
        "注：{document}为试行文件，有效期至 {until}，已过有效期；现行规定请以主管部门最新文件为准。"
    ),
)

FAQ_EN = FaqTexts(
    chatter={
        "greeting": (
            "Hello! I'm MakerDesk. I answer questions about Tianjin's maker-space policies and can "
            "pass your question to a service commissioner. What would you like to know?"
        ),
        "thanks": "You're welcome! Ask me any time.",
        "goodbye": "Goodbye, and good luck with your venture!",
        "identity": (
            "I'm MakerDesk, the policy assistant for Tianjin's maker spaces. I answer questions on "
            "the Science and Technology Commission's measures (津科创〔2015〕51号) and Baodi "
            "District's maker-space plan, and send what I can't answer to a service commissioner."
        ),
        "human": (
            "Sure, I'll pass you to a service commissioner. Tap the button and tell them what you "
            "need; they usually reply within 10 working days."
        ),
        "insult": (
            'Sorry I couldn\'t help. Try asking another way, or send "talk to a person" and a '
            "service commissioner will answer."
        ),
        "acknowledgement": "All right. Send me any other question.",
    },
    not_stated={
        "how-much": "The policy does not set an amount, a rate or a share for this.",
        "how-long": "The policy does not set a time limit for this.",
        "when": "The policy does not give a date for this.",
        "where": "The policy does not name a place for this.",
        "who": "The policy does not say which body or person is responsible for this.",
        "conditions": "The policy does not set conditions or requirements for this.",
    },
    nearest="What it does say:",
    elsewhere=(
        "I can only answer for Tianjin's maker spaces (the Commission's measures "
        "津科创〔2015〕51号 and Baodi District's plan). For {place}, please ask the local "
        "authorities there."
    ),
    other_district=(
        "This is in {area}'s plan and applies to {area} only; the policy says nothing about "
        "{district}."
    ),
    off_topic=(
        "I can't help with that 🙂 I answer questions about Tianjin's maker-space policies, "
        "such as:"
    ),
    examples=(
        "What is a maker space?",
        "How long until a commissioner replies?",
        "Which maker spaces are in Baodi?",
    ),
    lapsed=(
        "Note: {document} was a trial measure valid until {until}; it has lapsed, so please check "
        "the current rules with the authorities."
    ),
)

_FAQ_BY_LANGUAGE = {Language.ZH: FAQ_ZH, Language.EN: FAQ_EN}


def faq_texts_for(language: Language) -> FaqTexts:
    """What the bot says to messages its knowledge base does not simply answer, in ``language``."""
    return _FAQ_BY_LANGUAGE[language]

"""Channel-agnostic conversation logic, one module per feature, each with its ``router``.

Nothing here imports a platform SDK; handlers see :class:`bot.messages.IncomingMessage` only.
"""

from handlers import admin, basics, faq, requests

__all__ = ["ROUTERS"]

ROUTERS = (basics.guard_router, basics.router, admin.router, requests.router, faq.router)
"""In dispatch order: input guards first, free text (questions) last."""

"""Channel-agnostic conversation logic, one module per feature, each with its ``router``.

Nothing here imports a platform SDK; handlers see :class:`bot.messages.IncomingMessage` only.
"""

from handlers import admin, basics, commissioners, faq, feedback, intake, my_requests

__all__ = ["ROUTERS"]

ROUTERS = (
    basics.guard_router,
    basics.router,
    admin.router,
    intake.router,
    commissioners.router,
    my_requests.router,
    faq.router,
    feedback.router,
)
"""In dispatch order: input guards first; a conversation in progress before commands of the
duty groups; follow-ups to an open request before free text, which is a question."""

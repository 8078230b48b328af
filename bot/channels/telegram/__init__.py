"""Telegram: entrepreneurs in private chat, commissioners in their duty group's chat."""

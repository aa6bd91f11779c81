"""The chat sample's fixtures (chat_support.py)."""

from chat_support import chat, service

__all__ = ["chat", "service"]

"""Memory: sessions (short-term conversation history)."""

from .session import InMemorySession, Session

__all__ = ["InMemorySession", "Session"]

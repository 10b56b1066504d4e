"""Dispatch: tier transitions to messages (pure: routing, templates, privacy filter) and
their delivery over channels (I/O: signed webhooks, chat, email)."""

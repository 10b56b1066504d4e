"""Manager actions: signed links in messages, the pages they open, chat buttons."""

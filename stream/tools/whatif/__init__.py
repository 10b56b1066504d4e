"""`tierwatch whatif`: one history through several policies (engine, aggregates, report)."""

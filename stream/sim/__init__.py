"""Simulated teams and the demo: personas, the history simulator, the driver that streams a
history through Kafka in simulated time, and `make run`'s demo around a real worker."""

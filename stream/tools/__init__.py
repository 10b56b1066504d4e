"""The offline and operator commands: `tierwatch replay` (a history through the same pure
core), `tierwatch dlq` (dead letters listed and redriven) and `tierwatch feedback`."""

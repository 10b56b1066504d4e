"""The worker's Faust agents, thin: load state, call the pure core, store, send. Each has a
`register(pipeline)`; `stream.worker.wiring` calls them, and they never import it."""

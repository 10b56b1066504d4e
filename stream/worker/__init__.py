"""The Faust worker process: its wiring, its agents, and what they share (`pipeline`), with
the Faust adapter and the embedded broker's client-side workarounds beneath them."""

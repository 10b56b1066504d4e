"""The chaos suite (`make chaos`, `python -m bench.chaos`): real worker processes on the
embedded broker are killed, scaled, restarted and fed poison, the broker paused, and the
receiver of their deliveries taken down, while a simulated team streams through them in
simulated time; every run is compared with `tierwatch replay` of the same input
(transitions by id, each learner's final state, and with dispatch on, each delivery by
(transition, role, channel)), and hangs, time to resume and time to stop are measured.

Modules: `history` (the input and the expected answer), `fleet` (worker processes),
`monitor` (the group's committed offsets: progress, hangs, resume), `play` (the driving
loop), `scenarios` (what each run does to the workers), `check` (streamed against
replayed), `receiver` (the receiver process: webhook, chat, SMTP), `dispatching` (the
receiver's control and the workers' dispatch configuration), `deliveries` (delivered and
dead-lettered against dispatch's plan of replay's transitions), `report` (the table and
`bench/CHAOS.md`), `__main__` (the command line).
"""

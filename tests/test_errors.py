"""Every error tierwatch defines derives from one root (`stream.errors.TierwatchError`)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import schemas
import stream
from stream.core.errors import TierwatchError
from stream.errors import TierwatchError as Reexported


def _modules() -> list[str]:
    names = []
    for package in (stream, schemas):
        prefix = package.__name__ + "."
        names += [m.name for m in pkgutil.walk_packages(package.__path__, prefix)]
    return names


def test_every_project_exception_derives_from_the_root():
    """An exception class defined anywhere in stream/ or schemas/ is a TierwatchError."""
    strays = []
    for name in _modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            ours = cls.__module__ == name and issubclass(cls, BaseException)
            if ours and not issubclass(cls, TierwatchError):
                strays.append(f"{name}.{cls.__qualname__}")
    assert not strays


def test_the_root_is_the_one_stream_errors_exports():
    """`stream.errors` re-exports the root the core defines: one class, not two."""
    assert Reexported is TierwatchError

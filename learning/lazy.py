"""Lazy package exports: a package's public names, imported from their modules on first use."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(namespace: dict[str, Any], exports: dict[str, str], aliases: dict[str, str] | None = None
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the module ``__getattr__`` and ``__dir__`` for a package whose globals are ``namespace``.

    ``exports`` maps a public name to the module defining it; ``aliases`` maps a public name to the
    attribute's name in that module where they differ. A resolved name is cached in ``namespace``.
    """
    aliases = aliases or {}
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), aliases.get(name, name))
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__

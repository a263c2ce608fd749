"""Finding what a command names: ``package.module:name`` or ``path/to/file.py:name``.

Loading a file runs its top level, as importing a module does.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AscentError, UserError

if TYPE_CHECKING:  # loaded with the first agent or tool: ``ascent --help`` needs neither
    from ..agent import Agent
    from ..tools import FunctionTool

__all__ = ["load_agent", "load_object", "load_tool"]


def load_agent(target: str) -> Agent[Any]:
    """The agent named by ``MODULE:AGENT`` (or ``path/to/file.py:AGENT``).

    ``AGENT`` defaults to ``agent``; it may be dotted, and it may name a function
    of no arguments that returns an agent.
    """
    from ..agent import Agent

    value = load_object(target, default="agent")
    if callable(value) and not isinstance(value, Agent):
        try:
            value = value()
        except TypeError as exc:
            raise UserError(f"{target!r} is a callable that cannot be called alone: {exc}") from exc
    if not isinstance(value, Agent):
        raise UserError(f"{target!r} is a {type(value).__name__}, not an Agent")
    return value


def load_object(target: str, *, default: str) -> Any:
    """What ``MODULE:NAME`` or ``path/to/file.py:NAME`` names (``NAME`` defaults to ``default``)."""
    source, colon, attribute = target.rpartition(":")
    if not colon or _looks_like_path(attribute):  # no attribute (or a Windows drive's colon)
        source, attribute = target, default
    if not source or not attribute:
        raise UserError(f"expected MODULE:{default.upper()}, got {target!r}")
    module = _import(source)
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            from ..agent import Agent

            agents = sorted(name for name, obj in vars(module).items() if isinstance(obj, Agent))
            hint = f"; agents there: {', '.join(agents)}" if agents else ""
            raise UserError(f"{source!r} has no attribute {attribute!r}{hint}")
        value = getattr(value, part)
    return value


def _looks_like_path(text: str) -> bool:
    return text.endswith(".py") or "/" in text or "\\" in text


def _import(source: str) -> Any:
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # so examples/foo.py is importable as examples.foo
    try:
        if _looks_like_path(source):
            return _import_file(Path(source))
        return importlib.import_module(source)
    except AscentError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and (source == exc.name or source.startswith(exc.name + ".")):
            raise UserError(
                f"no module named {source!r} (run from the directory that holds it, "
                "or give a file: path/to/file.py:agent)"
            ) from None
        raise UserError(f"importing {source!r} failed: {exc}") from exc
    except Exception as exc:
        raise UserError(f"importing {source!r} failed: {type(exc).__name__}: {exc}") from exc


def _import_file(path: Path) -> Any:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    name = f"_ascent_cli_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import {path} as Python")
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # its sibling modules import as usual
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_tool(target: str) -> FunctionTool:
    """The function tool named by ``MODULE:TOOL`` (``TOOL`` defaults to ``tool``)."""
    from ..tools import FunctionTool

    value = load_object(target, default="tool")
    if not isinstance(value, FunctionTool):
        raise UserError(f"{target!r} is not a function tool ({type(value).__name__})")
    return value

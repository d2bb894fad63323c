"""Build step for results/_logscan.c, the runtime-log scanner results/logscan.py loads with ctypes.

The library is plain C (no Python C API), compiled with the compiler Python was
built with (``sysconfig``'s ``CC``, else ``cc``) into ``results/_logscan.so``
next to its source. Hatchling runs the hook below on every wheel build, editable
ones included; a developer who edits the C file rebuilds with::

    python hatch_build.py

A failed compile never fails an install: results/logs.py then reads runtime logs
with its slower pure-polars path. Run as a script, a failed compile exits non-zero
with the compiler's message.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING, Any

SOURCE = Path("results") / "_logscan.c"
LIBRARY = Path("results") / "_logscan.so"
_FLAGS = ("-O2", "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra")


class LogscanBuildError(Exception):
    """The C compiler could not build results/_logscan.so."""


def compilers() -> list[list[str]]:
    """Return the commands to try: the C compiler Python was built with, then ``cc``.

    A distribution's Python may name a cross-prefixed compiler this machine lacks.
    """
    configured = sysconfig.get_config_var("CC")
    commands = [shlex.split(configured)] if configured else []
    return [*commands, ["cc"]] if ["cc"] not in commands else commands


def compile_logscan(root: Path, *, werror: bool) -> Path | None:
    """Compile ``results/_logscan.c`` under ``root`` into ``results/_logscan.so`` beside it.

    The compiler writes a temporary file that replaces the library only once it is
    whole, so a half-written library is never loaded; when the compile fails, the
    library from an earlier source goes too, so what loads is this source's build
    or nothing.

    ``-Werror`` is for the developer's rebuild only (``python hatch_build.py``),
    where whoever edits the C file sees the warning and fixes it. An install passes
    ``werror=False``: a warning that a newer compiler adds to code that is correct
    must not cost a user the scanner and silently send them down the slower path.

    Args:
        root: The project root.
        werror: Whether warnings fail the compile.

    Returns:
        The library's path, or None when there is no C source to compile.

    Raises:
        LogscanBuildError: The compiler is missing or failed; the message names the
            command and carries the compiler's output.
    """
    source = root / SOURCE
    if not source.is_file():
        return None
    library = root / LIBRARY
    partial = library.with_name(f"{library.name}.{os.getpid()}.tmp")
    # The source's hash goes into the library: results/logscan.py loads only a build
    # of the source beside it.
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    flags = [
        *_FLAGS,
        *(["-Werror"] if werror else []),
        f'-DEDGEDRILL_LOGSCAN_SOURCE="{digest}"',
        "-o",
        str(partial),
        str(source),
        "-lm",
    ]
    failures: list[str] = []
    for command in ([*cc, *flags] for cc in compilers()):
        try:
            subprocess.run(command, check=True, capture_output=True, text=True)
        except OSError as error:  # no such compiler: try the next
            failures.append(f"{shlex.join(command)} failed:\n{error}")
            continue
        except subprocess.CalledProcessError as error:
            failures.append(f"{shlex.join(command)} failed:\n{error.stderr}")
            break  # the compiler ran and refused the source: another would too
        partial.replace(library)
        return library
    partial.unlink(missing_ok=True)
    library.unlink(missing_ok=True)
    raise LogscanBuildError("\n".join(failures))


# pip builds in an isolated environment, so a developer's venv need not hold hatchling:
# run as a script (`python hatch_build.py`), this file needs only the compile step.
if __name__ != "__main__" or TYPE_CHECKING:
    from hatchling.builders.config import BuilderConfig
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface

    class LogscanBuildHook(BuildHookInterface[BuilderConfig]):
        """Compile the runtime-log scanner before hatchling builds a wheel."""

        PLUGIN_NAME = "custom"

        def initialize(self, version: str, build_data: dict[str, Any]) -> None:
            """Compile the scanner; ship it in a standard wheel, which is then platform-specific.

            An editable install leaves the library in results/, which is on the path.
            """
            try:
                library = compile_logscan(Path(self.root), werror=False)
            except LogscanBuildError as error:
                sys.stderr.write(
                    f"WARNING: edgedrill could not build {LIBRARY}: {error}\n"
                    "results/logs.py falls back to its slower pure-polars runtime-log reader.\n"
                )
                return
            if library is None or version == "editable":
                return
            build_data["force_include"][str(library)] = LIBRARY.as_posix()
            build_data["pure_python"] = False
            build_data["infer_tag"] = True


def main() -> int:
    """Rebuild results/_logscan.so in this checkout, warnings as errors."""
    try:
        library = compile_logscan(Path(__file__).resolve().parent, werror=True)
    except LogscanBuildError as error:
        sys.stderr.write(f"{error}\n")
        return 1
    sys.stdout.write(f"built {library}\n" if library else f"no {SOURCE}: nothing to build\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

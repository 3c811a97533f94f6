"""Execute the numbered notebooks headless with papermill.

Usage::

    python -m aesearch_utils.course.run                      # every notebook, full profile
    python -m aesearch_utils.course.run --profile smoke      # the quick tour CI takes
    python -m aesearch_utils.course.run 01 03                # some notebooks, by number or name

Executed notebooks go to ``build/<profile>/notebooks/`` (or ``--output-dir``);
each notebook's wall time is merged into ``notebook_times.json`` in the
profile's results folder. A failing notebook names its failing cell, and the
run stops with exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from aesearch_utils import config
from aesearch_utils.course.profiles import PROFILES, notebook_runs, output_dirs
from aesearch_utils.errors import AesearchError, UnknownNameError
from aesearch_utils.io import write_json

KERNEL_NAME = "python3"
TIMES_FILE = "notebook_times.json"


class NotebookFailure(AesearchError):
    """A notebook raised an exception; the message says in which cell and where the copy is."""

    def __init__(
        self,
        notebook: str,
        execution_count: int | None,
        first_line: str,
        error: str,
        executed_copy: Path,
    ) -> None:
        self.notebook = notebook
        self.execution_count = execution_count
        self.executed_copy = executed_copy
        super().__init__(
            f"{notebook} failed in cell In [{execution_count}] ({first_line!r}): {error}\n"
            f"  the executed copy with the full traceback: {executed_copy}"
        )


def discover_notebooks(notebooks_dir: Path) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in reading order."""
    return sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))


def select_notebooks(notebooks: Sequence[Path], wanted: Sequence[str]) -> list[Path]:
    """The notebooks named in ``wanted`` (by number such as ``01`` or by name), in order."""
    if not wanted:
        return list(notebooks)
    chosen = []
    for name in wanted:
        stem = Path(name).stem
        matches = [nb for nb in notebooks if nb.stem == stem or nb.stem.split("_", 1)[0] == stem]
        if not matches:
            raise UnknownNameError("notebook", name, [nb.stem for nb in notebooks])
        chosen.extend(match for match in matches if match not in chosen)
    return sorted(chosen)


def execute_notebook(notebook: Path, executed_copy: Path, parameters: dict[str, object]) -> float:
    """Run one notebook with papermill; return its wall time in seconds."""
    import papermill
    from jupyter_client import KernelManager
    from papermill.exceptions import PapermillExecutionError

    executed_copy.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # IPC sockets in a private folder: the kernel is reachable from this machine
    # only, and ipykernel does not warn about unencrypted TCP.
    with tempfile.TemporaryDirectory(prefix="aesearch-kernel-") as sockets:
        kernel = KernelManager(
            kernel_name=KERNEL_NAME, transport="ipc", ip=str(Path(sockets) / "kernel")
        )
        try:
            papermill.execute_notebook(
                notebook,
                executed_copy,
                parameters=parameters,
                kernel_name=KERNEL_NAME,
                km=kernel,
                progress_bar=False,
                cwd=notebook.parent,
            )
        except PapermillExecutionError as failure:
            first_line = next((line for line in failure.source.splitlines() if line.strip()), "")
            raise NotebookFailure(
                notebook=notebook.stem,
                execution_count=failure.exec_count,
                first_line=first_line.strip(),
                error=f"{failure.ename}: {failure.evalue}",
                executed_copy=executed_copy,
            ) from None
        finally:
            # nbclient only shuts down kernels it started itself
            if kernel.has_kernel:
                kernel.shutdown_kernel(now=True)
    return time.perf_counter() - start


def run(
    profile: str,
    names: Sequence[str] = (),
    output_dir: str | Path = "",
    notebooks_dir: Path | None = None,
    times_file: str = TIMES_FILE,
) -> dict[str, float]:
    """Execute the selected notebooks in order; return their wall times in seconds.

    The times are merged into ``times_file`` in the profile's results folder.
    """
    notebooks_dir = notebooks_dir or config.notebooks_dir()
    notebooks = select_notebooks(discover_notebooks(notebooks_dir), names)
    if not notebooks:
        raise UnknownNameError("notebook", "any", ["no NN_*.ipynb in " + str(notebooks_dir)])
    outputs = output_dirs(profile, output_dir)
    executed_dir = (
        outputs.root / "notebooks"
        if output_dir
        else config.project_root() / "build" / profile / "notebooks"
    )
    times_path = outputs.results / times_file
    runs = [
        (notebook, run)
        for notebook in notebooks
        for run in notebook_runs(notebook.stem, profile, output_dir)
    ]
    # kernels inherit this: training logs one line per epoch instead of a progress bar
    os.environ[config.HEADLESS_VARIABLE] = "1"
    times: dict[str, float] = {}
    for position, (notebook, run) in enumerate(runs, start=1):
        print(f"[{position}/{len(runs)}] {run.name} ({profile}) ...", flush=True)
        seconds = execute_notebook(notebook, executed_dir / f"{run.name}.ipynb", run.parameters)
        times[run.name] = round(seconds, 1)
        print(f"    done in {seconds:.1f} s", flush=True)
        write_json(times_path, {**_read_times(times_path), **times})
    return times


def _read_times(path: Path) -> dict[str, float]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aesearch_utils.course.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("notebooks", nargs="*", help="numbers or names (default: all)")
    parser.add_argument("--profile", choices=PROFILES, default="full")
    parser.add_argument(
        "--output-dir",
        default="",
        help="write executed notebooks, figures and results here instead of the profile's folders",
    )
    parser.add_argument(
        "--times-file",
        default=TIMES_FILE,
        help=f"results file for the wall times (default {TIMES_FILE}); e.g. a cached rerun's",
    )
    arguments = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        times = run(
            arguments.profile,
            arguments.notebooks,
            arguments.output_dir,
            times_file=arguments.times_file,
        )
    except AesearchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(times)} notebook(s) ran in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Execute the numbered notebooks headless with papermill.

Usage::

    python -m aesearch_utils.course.run                      # every notebook, full profile
    python -m aesearch_utils.course.run --profile smoke      # the quick tour CI takes
    python -m aesearch_utils.course.run 01 03                # some notebooks, by number or name

Before it starts, the runner prints its plan: the notebook runs, what the
caches already hold (trained models, decoded datasets) and an estimate from
the last recorded run. During the run it prints one line per notebook, with
the time elapsed and an estimate of what is left. Each notebook runs in a
kernel of its own, started (TensorFlow imported) while the notebook before it
runs (:class:`WarmKernel`).

Executed notebooks go to ``build/<profile>/notebooks/`` (or ``--output-dir``).
The wall times are a record of one whole run: only a run of every notebook
writes ``notebook_times.json`` in the profile's results folder (the seconds
per notebook run, the whole run's wall clock, and the machine they were
measured on), and it replaces
the file; a run of some notebooks writes its times to
``build/<profile>/notebook_times_partial.json`` instead. A failing notebook
names its failing cell, and the run stops with exit status 1 (recording
nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from jupyter_client import KernelManager

from aesearch_utils import config
from aesearch_utils.course.machine import machine_description
from aesearch_utils.course.profiles import PROFILES, notebook_runs, output_dirs
from aesearch_utils.errors import AesearchError, UnknownNameError
from aesearch_utils.io import write_json

KERNEL_NAME = "python3"
KERNEL_START_SECONDS = 120
"""How long a kernel may take to start and to import TensorFlow."""
WARM_UP_CODE = "import aesearch_utils.course.experiment, aesearch_utils.viz.figures"
"""Run in a kernel started while a notebook runs, before its own notebook: the imports every
notebook starts with, TensorFlow's above all."""
TIMES_FILES = {"extended": "notebook_times_extended.json"}
"""Per profile, the results file of its whole runs' wall times (default below)."""
TIMES_FILE = "notebook_times.json"
RERUN_TIMES_FILE = "notebook_times_rerun.json"
"""The full profile's record of a rerun right after a whole first run (``--times-file``)."""
TIME_GOALS_MINUTES = {"first run": 60, "rerun": 5, "notebook": 10}
"""The class hour (issue 14): the whole first run, a rerun with everything cached, and the
longest any one notebook run may take, in the full profile on a 2-core CPU."""


class KernelStartFailure(AesearchError):
    """A notebook's kernel did not start, or could not import the package."""


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


class WarmKernel:
    """A notebook's own kernel, started, with the package imported, while the notebook
    before it runs.

    Every notebook starts a kernel and imports TensorFlow, the same work each
    time; a rerun with everything cached does little else. Done ahead, it
    overlaps the notebook before. The import runs silently (no output, no
    history), so the notebook's cells and execution counts are what they would be
    in a fresh kernel, and each notebook still has a kernel of its own. The first
    kernel imports nothing ahead: nothing runs meanwhile.
    """

    def __init__(self, working_dir: Path, import_ahead: bool = True) -> None:
        self._sockets = tempfile.TemporaryDirectory(prefix="aesearch-kernel-")
        # IPC sockets in a private folder: the kernel is reachable from this machine
        # only, and ipykernel does not warn about unencrypted TCP.
        self.manager = KernelManager(
            kernel_name=KERNEL_NAME, transport="ipc", ip=str(Path(self._sockets.name) / "kernel")
        )
        self._failure: BaseException | None = None
        self._thread = threading.Thread(
            target=self._start, args=(working_dir, import_ahead), daemon=True
        )
        self._thread.start()

    def _start(self, working_dir: Path, import_ahead: bool) -> None:
        try:
            self.manager.start_kernel(cwd=str(working_dir))
            if import_ahead:
                self._import_ahead()
        except BaseException as failure:  # handed to the thread that waits for the kernel
            self._failure = failure

    def _import_ahead(self) -> None:
        client = self.manager.blocking_client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=KERNEL_START_SECONDS)
            request = client.execute(WARM_UP_CODE, silent=True, store_history=False)
            while True:
                reply = client.get_shell_msg(timeout=KERNEL_START_SECONDS)
                if reply["parent_header"].get("msg_id") == request:
                    break
            if reply["content"]["status"] != "ok":
                raise RuntimeError(
                    f"{WARM_UP_CODE!r}: {reply['content'].get('ename')}: "
                    f"{reply['content'].get('evalue')}"
                )
        finally:
            client.stop_channels()

    def ready(self) -> KernelManager:
        """The started kernel's manager, once its import has finished."""
        self._thread.join()
        if self._failure is not None:
            raise KernelStartFailure(f"a notebook kernel did not start: {self._failure}")
        return self.manager

    def shutdown(self) -> None:
        self._thread.join()
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=True)
        self._sockets.cleanup()


def execute_notebook(
    notebook: Path, executed_copy: Path, parameters: dict[str, object], kernel: WarmKernel
) -> float:
    """Run one notebook with papermill in ``kernel``; return its wall time in seconds, from
    the moment it is handed over (waiting for the kernel's import, if unfinished, included)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    executed_copy.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            notebook,
            executed_copy,
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            km=kernel.ready(),
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
    return time.perf_counter() - start


def run(
    profile: str,
    names: Sequence[str] = (),
    output_dir: str | Path = "",
    notebooks_dir: Path | None = None,
    times_file: str = "",
) -> dict[str, float]:
    """Execute the selected notebooks in order; return their wall times in seconds.

    A run of every notebook (no ``names``) replaces ``times_file`` (empty: the
    profile's own, :data:`TIMES_FILES`) in the profile's results folder; a
    partial run writes its times under ``build/``.
    """
    times_file = times_file or TIMES_FILES.get(profile, TIMES_FILE)
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
    runs = [
        (notebook, run)
        for notebook in notebooks
        for run in notebook_runs(notebook.stem, profile, output_dir)
    ]
    whole = not names
    times_path = (
        outputs.results / times_file
        if whole
        else executed_dir.parent / "notebook_times_partial.json"
    )
    recorded = _read_times(outputs.results / times_file)
    print_plan(profile, [run.name for _, run in runs], recorded)
    # kernels inherit this: training logs one line per epoch instead of a progress bar
    os.environ[config.HEADLESS_VARIABLE] = "1"
    times: dict[str, float] = {}
    start = time.perf_counter()
    kernel = WarmKernel(notebooks_dir, import_ahead=False)
    try:
        for position, (notebook, run) in enumerate(runs, start=1):
            print(f"[{position}/{len(runs)}] {run.name} ({profile}) ...", flush=True)
            current, kernel = kernel, (WarmKernel(notebooks_dir) if position < len(runs) else None)
            try:
                seconds = execute_notebook(
                    notebook, executed_dir / f"{run.name}.ipynb", run.parameters, current
                )
            finally:
                current.shutdown()
            times[run.name] = round(seconds, 1)
            left = _estimate([later.name for _, later in runs[position:]], recorded)
            print(
                f"    done in {seconds:.1f} s; {(time.perf_counter() - start) / 60:.1f} min so far"
                + (f", about {left / 60:.0f} min left" if left is not None else ""),
                flush=True,
            )
    finally:
        if kernel is not None:
            kernel.shutdown()
    wall_seconds = round(time.perf_counter() - start, 1)
    write_json(
        times_path,
        {"machine": machine_description(), "seconds": times, "wall_seconds": wall_seconds},
    )
    if not whole:
        print(f"times of this partial run: {times_path} (the record is of whole runs only)")
    return times


def print_plan(profile: str, names: Sequence[str], recorded: dict[str, float]) -> None:
    """What will run, what is cached, and how long the last recorded run of it took."""
    models = sorted(config.models_dir().glob("*.keras"))
    datasets = sorted(path.stem for path in config.cache_dir().glob("*.npz"))
    print(f"plan ({profile} profile): {len(names)} notebook run(s)")
    print(f"  cached: {len(models)} trained model(s) in {config.models_dir()}; decoded datasets: "
          f"{', '.join(datasets) or 'none'}")  # fmt: skip
    for name in names:
        last = f"{recorded[name]:.0f} s last time" if name in recorded else "not timed yet"
        print(f"  {name:<48} {last}")
    estimate = _estimate(names, recorded)
    print(
        f"  estimate: about {estimate / 60:.0f} min (the last recorded run; cached models make it "
        "shorter)"
        if estimate is not None
        else "  estimate: unknown (some of these notebooks were never timed in this profile)",
        flush=True,
    )


def _estimate(names: Sequence[str], recorded: dict[str, float]) -> float | None:
    if not all(name in recorded for name in names):
        return None
    return sum(recorded[name] for name in names)


def _read_times(path: Path) -> dict[str, float]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["seconds"]
    except (OSError, ValueError, KeyError, TypeError):
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
        default="",
        help=f"results file for the wall times (default {TIMES_FILE}, or the extended "
        "profile's own); e.g. a cached rerun's",
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

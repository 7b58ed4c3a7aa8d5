#!/usr/bin/env python3
"""The burst benchmark's driver: N webhook files through ``kommo-segment replay`` and through the brief's design.

For each burst size: write the files (``make_burst.py``) into a temporary directory; start fresh loopback fakes
(``fakes.py``, in this process); run ``kommo-segment replay`` on the files as a subprocess, timed from process start
to exit; read the fakes' counts; start fresh fakes again and run ``brief_design.py`` on the same files, timed the
same way. Prints a markdown table (Kommo requests, 429s, busiest second, Segment requests, messages, wall time per
size and design, and the brief/replay ratios) and, with ``--chart``, draws Kommo requests and wall time against
burst size for both designs (matplotlib, from ``.build-bench-venv`` when this Python lacks it).

    python3 Benchmarks/burst/run_burst.py --kommo-segment .build/release/kommo-segment
    python3 Benchmarks/burst/run_burst.py --kommo-segment BIN --sizes 60            # the issue's headline case
    python3 Benchmarks/burst/run_burst.py --kommo-segment BIN --chart Documentation/burst-chart.png \\
        --json-out .build-bench/burst.json

Stdlib only (matplotlib for the chart, installed into the venv on demand; skipped with a note if that fails).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from fakes import KOMMO_LIMIT, KOMMO_WINDOW, KommoFake, SegmentFake  # noqa: E402
from make_burst import make_burst  # noqa: E402

DEFAULT_SIZES = "10,20,40,60,100,150,200"
DESIGNS = ("replay", "brief")
SUMMARY_RE = re.compile(r"webhooks: (\d+), events: (\d+), messages: (\d+) (?:delivered|printed), (\d+) skipped, "
                        r"(\d+) failed, kommo requests: (\d+)")


def log(message: str) -> None:
    print(f"run-burst: {message}", file=sys.stderr, flush=True)


def child_env() -> dict:
    """This environment without the variables the CLI reads (flags win anyway; the inbox and config would not)."""
    return {k: v for k, v in os.environ.items() if not (k.startswith("KOMMO_") or k.startswith("SEGMENT_"))}


def wait_for_binary(path: str, patience: float) -> None:
    """The binary may be being rebuilt: wait up to ``patience`` seconds for it to be there and executable."""
    deadline = time.monotonic() + patience
    warned = False
    while not (os.path.isfile(path) and os.access(path, os.X_OK)):
        if time.monotonic() > deadline:
            raise SystemExit(f"run-burst: {path} is missing or not executable")
        if not warned:
            log(f"{path} is missing (being rebuilt?); waiting up to {patience:.0f} s")
            warned = True
        time.sleep(5)


def timed_run(command: list[str], timeout: float) -> tuple[int, float, str, str]:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(),
                               stdin=subprocess.DEVNULL)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        return -9, time.perf_counter() - started, stdout.decode(errors="replace"), \
            stderr.decode(errors="replace") + "\n(killed after the timeout)"
    return process.returncode, time.perf_counter() - started, stdout.decode(errors="replace"), \
        stderr.decode(errors="replace")


def run_design(design: str, files: list[str], args) -> dict:
    kommo = KommoFake(args.fixtures).start()
    segment = SegmentFake().start()
    try:
        if design == "replay":
            wait_for_binary(args.kommo_segment, args.binary_patience)
            command = [args.kommo_segment, "replay", "--kommo-base-url", kommo.base_url, "--kommo-token", "bench",
                       "--segment-write-key", "bench", "--segment-endpoint", segment.base_url,
                       *(["--notes"] if args.notes else []), *args.replay_arg, *files]
        else:
            command = [sys.executable, str(HERE / "brief_design.py"), "--kommo-base-url", kommo.base_url,
                       "--segment-endpoint", segment.base_url, "--kommo-rate", str(args.brief_kommo_rate),
                       *(["--notes"] if args.notes else []), *files]
        status, seconds, stdout, stderr = timed_run(command, args.timeout)
        time.sleep(0.05)  # let the fakes' threads finish counting the last request
        k, s = kommo.stats(), segment.stats()
    finally:
        kommo.stop()
        segment.stop()
    lines = [line for line in stderr.splitlines() if line.strip()]
    result = {
        "design": design, "exit_status": status, "wall_seconds": round(seconds, 3),
        "kommo": k, "segment": s, "stderr_lines": len(lines),
        "stderr": lines[:2000], "stdout_tail": stdout.splitlines()[-5:],
    }
    if design == "replay":
        match = next((SUMMARY_RE.search(line) for line in reversed(lines) if SUMMARY_RE.search(line)), None)
        if match:
            keys = ("webhooks", "events", "delivered", "skipped", "failed", "kommo_requests")
            result["summary"] = dict(zip(keys, map(int, match.groups())))
        result["problems"] = [line for line in lines if " failed: " in line or ": rejected: " in line
                              or "error" in line.lower()][:20]
        result["item_lines"] = {
            "skipped": sum(" skipped: " in line for line in lines),
            "duplicate": sum(line.endswith(" duplicate") for line in lines),
            "failed": sum(" failed: " in line for line in lines),
        }
    else:
        match = re.search(r"brief-design: (.*)", stdout)
        if match:
            result["summary"] = {key: float(value) if "." in value else int(value)
                                 for key, value in (pair.split("=", 1) for pair in match.group(1).split())}
        result["problems"] = lines[:20]
    return result


def fmt_ratio(a, b) -> str:
    return f"{a / b:.2f}" if b else "—"


def print_table(runs: list[dict]) -> str:
    header = ("| Size (files) | Lead events | Leads | Design | Exit | Kommo requests | 429s | Busiest second | "
              "Segment requests | Messages | Wall time (s) |")
    out = [header, "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for run in runs:
        by = {r["design"]: r for r in run["results"]}
        for design in DESIGNS:
            r = by.get(design)
            if not r:
                continue
            out.append(f"| {run['size']} | {run['lead_events']} | {run['distinct_leads']} | {design} | "
                       f"{r['exit_status']} | {r['kommo']['requests']} | {r['kommo']['rate_limited_429']} | "
                       f"{r['kommo']['busiest_window']} | {r['segment']['requests']} | {r['segment']['messages']} | "
                       f"{r['wall_seconds']:.2f} |")
        if "replay" in by and "brief" in by:
            a, b = by["brief"], by["replay"]
            out.append(f"| {run['size']} | | | **brief/replay** | | "
                       f"**{fmt_ratio(a['kommo']['requests'], b['kommo']['requests'])}** | | | "
                       f"**{fmt_ratio(a['segment']['requests'], b['segment']['requests'])}** | "
                       f"{fmt_ratio(a['segment']['messages'], b['segment']['messages'])} | "
                       f"**{fmt_ratio(a['wall_seconds'], b['wall_seconds'])}** |")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------------------
# Chart


def _has_matplotlib(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import matplotlib"], capture_output=True, check=False)
    return probe.returncode == 0


def matplotlib_python() -> str | None:
    """A Python that imports matplotlib: this one, else ``.build-bench-venv`` (created/installed if needed)."""
    if _has_matplotlib(sys.executable):
        return sys.executable
    # The venv of Benchmarks/bench_venv.py (same place; git ignores it through .build-*/).
    sys.path.insert(0, str(REPO_ROOT / "Benchmarks"))
    try:
        from bench_venv import VENV_DIR, VENV_PYTHON
    except ImportError:
        VENV_DIR = REPO_ROOT / ".build-bench-venv"
        VENV_PYTHON = VENV_DIR / "bin" / "python"
    try:
        if not VENV_PYTHON.exists():
            log(f"creating {VENV_DIR}")
            subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
        if not _has_matplotlib(str(VENV_PYTHON)):
            log(f"installing matplotlib into {VENV_DIR}")
            subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                            "matplotlib"], check=True)
        if _has_matplotlib(str(VENV_PYTHON)):
            return str(VENV_PYTHON)
    except (OSError, subprocess.CalledProcessError) as error:
        log(f"matplotlib could not be installed ({error})")
    return None


def render_chart(data_path: str, png_path: str) -> None:
    """Runs inside a Python with matplotlib: two subplots from the JSON results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(Path(data_path).read_text(encoding="utf-8"))
    runs = sorted(data["runs"], key=lambda run: run["size"])
    styles = {"replay": dict(color="#1f77b4", marker="o", label="kommo-segment replay"),
              "brief": dict(color="#d62728", marker="s", label="the brief's design (Python, 6.5 req/s)")}
    fig, (ax_kommo, ax_wall) = plt.subplots(1, 2, figsize=(11, 4.4))
    for design in DESIGNS:
        points = [(run["size"], r) for run in runs for r in run["results"] if r["design"] == design]
        if not points:
            continue
        sizes = [size for size, _ in points]
        ax_kommo.plot(sizes, [r["kommo"]["requests"] for _, r in points], **styles[design])
        ax_wall.plot(sizes, [r["wall_seconds"] for _, r in points], **styles[design])
        for size, r in points:
            if r["kommo"]["rate_limited_429"]:
                ax_kommo.annotate(f"{r['kommo']['rate_limited_429']}×429", (size, r["kommo"]["requests"]),
                                  textcoords="offset points", xytext=(4, -12), fontsize=7, color=styles[design]["color"])
    ax_kommo.set_title("Kommo API requests per burst")
    ax_kommo.set_ylabel("requests (log scale)")
    ax_wall.set_title("Wall time per burst (process start to exit)")
    ax_wall.set_ylabel("seconds (log scale)")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda value, _: f"{value:g}")
    for ax in (ax_kommo, ax_wall):
        ax.set_xlabel("burst size (webhook files, ~2 lead events each)")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(plain)
        ax.margins(y=0.12)
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
        for line in ax.get_lines():
            for x, y in zip(line.get_xdata(), line.get_ydata()):
                ax.annotate(f"{y:.3g}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center",
                            fontsize=7, color=line.get_color())
    machine = data.get("machine", {})
    fig.suptitle(f"Kommo webhook burst, loopback fakes (Kommo limit 7 req/s) — {data.get('date', '')[:10]}, "
                 f"{machine.get('cpus', '?')} CPUs", fontsize=10)
    fig.tight_layout()
    Path(png_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=120)


def draw_chart(document: dict, png_path: str) -> None:
    python = matplotlib_python()
    if python is None:
        print("run-burst: matplotlib is not available and could not be installed; no chart", flush=True)
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(document, handle)
        data_path = handle.name
    try:
        subprocess.run([python, str(Path(__file__).resolve()), "--render-chart", data_path, png_path], check=True)
        print(f"run-burst: chart written to {png_path}", flush=True)
    except subprocess.CalledProcessError as error:
        print(f"run-burst: the chart could not be drawn ({error}); no chart", flush=True)
    finally:
        os.unlink(data_path)


# --------------------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--render-chart":
        render_chart(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description="Burst benchmark: kommo-segment replay vs the brief's design.")
    parser.add_argument("--kommo-segment", required=True, help="path to the kommo-segment binary")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated burst sizes (default {DEFAULT_SIZES})")
    parser.add_argument("--designs", default="replay,brief", help="which designs to run (default replay,brief)")
    parser.add_argument("--chart", help="write the chart (PNG) here")
    parser.add_argument("--json-out", help="write every figure (fakes' stats included) as JSON here")
    parser.add_argument("--fixtures", default=str(REPO_ROOT / "Sources/KommoSegmentTesting/Resources/kommo-api"))
    parser.add_argument("--brief-kommo-rate", type=float, default=6.5, help="the brief design's Kommo throttle")
    parser.add_argument("--notes", action="store_true",
                        help="write Kommo notes back in both designs (replay --notes; the brief's optional step 4)")
    parser.add_argument("--replay-arg", action="append", default=[],
                        help="an extra argument for replay, before the files (repeatable), e.g. --replay-arg=--notes")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per design run")
    parser.add_argument("--binary-patience", type=float, default=600,
                        help="seconds to wait for a missing binary (it may be being rebuilt)")
    parser.add_argument("--keep-files", action="store_true", help="keep the generated webhook files")
    args = parser.parse_args(argv)

    args.kommo_segment = os.path.abspath(args.kommo_segment)
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    designs = [d.strip() for d in args.designs.split(",") if d.strip()]
    if not sizes or any(size < 1 for size in sizes) or any(d not in DESIGNS for d in designs):
        parser.error("--sizes takes positive integers; --designs takes replay and/or brief")

    runs = []
    for size in sizes:
        directory = tempfile.mkdtemp(prefix=f"burst-{size}-")
        try:
            burst = make_burst(size, directory)
            log(f"size {size}: {burst['file_count']} files, {burst['lead_events']} lead events, "
                f"{burst['distinct_leads']} distinct leads")
            results = []
            for design in designs:
                log(f"size {size}: running {design}")
                result = run_design(design, burst["files"], args)
                results.append(result)
                k, s = result["kommo"], result["segment"]
                log(f"size {size}: {design}: exit {result['exit_status']}, {result['wall_seconds']:.2f} s, "
                    f"kommo {k['requests']} (429: {k['rate_limited_429']}, busiest second {k['busiest_window']}), "
                    f"segment {s['requests']} requests / {s['messages']} messages")
                for line in result["problems"][:5]:
                    log(f"  {design} stderr: {line}")
            runs.append({"size": size, "lead_events": burst["lead_events"],
                         "distinct_leads": burst["distinct_leads"], "by_sample": burst["by_sample"],
                         "results": results})
        finally:
            if args.keep_files:
                log(f"files kept in {directory}")
            else:
                shutil.rmtree(directory, ignore_errors=True)

    table = print_table(runs)
    print(table, flush=True)
    document = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "binary": args.kommo_segment,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "kommo_limit": {"requests": KOMMO_LIMIT, "window_seconds": KOMMO_WINDOW},
        "brief_kommo_rate": args.brief_kommo_rate,
        "notes": args.notes,
        "runs": runs,
        "table": table,
    }
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(document, indent=2), encoding="utf-8")
        log(f"results written to {args.json_out}")
    if args.chart:
        draw_chart(document, args.chart)
    failed = any(r["exit_status"] != 0 for run in runs for r in run["results"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

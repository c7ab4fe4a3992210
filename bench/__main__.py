"""`python -m bench [p1 p2 p3 p4 p5] [--no-record]`: run the benchmarks (all by default), print a table, and
append the figures to bench/RESULTS.md. Needs the local control plane (`make cluster`; started if not)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback

from bench import report
from bench.common import Figure, log, open_bench

ALL = ("p1", "p2", "p3", "p4", "p5", "p6")  # p7 (a team on a big project, ~40 min) only when named
TITLES = {
    "p1": "page overhead",
    "p2": "create",
    "p3": "scale (1,000 Services, 5,000 pods)",
    "p4": "concurrency (100 sessions)",
    "p5": "weight of the wizard's first load",
    "p6": "cost growth (100 / 1,000 / 10,000 Services)",
    "p7": "a team's load (100 sessions on 1,000 and 10,000 Services)",
    "p8": "throughput held with p99 <= 250 ms, 1 and 2 workers (1,000 Services)",
}
SETTINGS = (
    "BENCH_ITERATIONS",
    "BENCH_P2_ITERATIONS",
    "BENCH_P3_SERVICES",
    "BENCH_P3_REPLICAS",
    "BENCH_P4_SECONDS",
    "BENCH_P4_SESSIONS",
    "BENCH_P4_THINK",
    "BENCH_P6_SIZES",
    "BENCH_P7_SIZES",
    "BENCH_P7_SECONDS",
    "BENCH_P7_SESSIONS",
    "BENCH_P7_THINK",
    "BENCH_SERVER_WORKERS",
    "BENCH_P8_STEPS",
    "BENCH_P8_STEP_SECONDS",
    "BENCH_P8_WORKERS",
)


async def main(selected: list[str], record: bool) -> int:
    from bench import (
        p1_pages,
        p2_create,
        p3_scale,
        p4_concurrency,
        p5_weight,
        p6_growth,
        p7_team,
        p8_throughput,
    )

    modules = {"p1": p1_pages, "p2": p2_create, "p3": p3_scale, "p4": p4_concurrency, "p5": p5_weight, "p6": p6_growth,
               "p7": p7_team, "p8": p8_throughput}
    figures: list[Figure] = []
    failed = False
    load_before = os.getloadavg()
    async with open_bench() as bench:
        for name in selected:
            log(f"{name.upper()}: {TITLES[name]}")
            try:
                figures += await modules[name].run(bench)
            except Exception as e:  # one benchmark failing must not lose the others' figures
                failed = True
                traceback.print_exc()
                figures.append(
                    Figure(
                        name.upper(),
                        "did not complete",
                        float("nan"),
                        "",
                        "",
                        False,
                        f"{type(e).__name__}: {e}"[:300],
                    )
                )
            finally:
                await bench.delete_namespaces()
    print()
    print(report.table(figures))
    load_after = os.getloadavg()
    load = (
        f"load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end "
        f"(1-minute; the machine is shared)"
    )
    print(load)
    if record:
        settings = {k: os.environ[k] for k in SETTINGS if os.environ.get(k)}
        report.append(figures, selected, settings, load)
        log(f"appended to {report.RESULTS}")
    return 1 if failed else 0


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "benchmarks", nargs="*", metavar="pN", help="which to run (p1 ... p7); p1-p6 when none is named"
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args(argv)
    args.benchmarks = [b.lower() for b in args.benchmarks]
    known = (*ALL, "p7", "p8")
    unknown = [b for b in args.benchmarks if b not in known]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(known)}")
    selected = [b for b in known if b in (args.benchmarks or ALL)]
    return asyncio.run(main(selected, record=not args.no_record))


if __name__ == "__main__":
    sys.exit(cli())

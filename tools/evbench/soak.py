"""Soak: N charge points at 1 Hz for an hour against one Central (issue 20, point 5).

    cd tools && ../.venv/bin/python -m evbench.soak --cps 1000 --minutes 60 \\
        --sample-s 60 --out ../bench/soak.json            (or: make soak CPS=1000 MINUTES=60)

One load step (evbench.step) with no probes and no reconnect storm, whose
measured window lasts --minutes. Every --sample-s seconds it prints and keeps
one sample: RSS and CPU of Central, the broker (a local Tansu broker started
here, or --broker-pid with --kafka) and this generator; the charging_data
records sent and received in the interval; p50/p99 of the end-to-end latency
(charge point -> cp-events -> Central -> driver-events -> driver) of the
records created in it. The printed latency counts what had arrived by then;
the written one is recomputed after the drain, when every record is in. At the
end the step drains as a load step does, and the verdicts are judged:
RSS growth of Central and of the broker < 5 % (last sample vs the first one
after 5 minutes), 0 lost (evbench.losses), p99 steady. Writes --out (JSON) and
--md (Markdown). The exit status is 0 whatever the verdicts: 1 only when the
tool itself broke, 130 when interrupted (the partial report is written).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from evbench.loadgen import raise_fd_limit
from evbench.losses import step_losses
from evbench.procmon import CpuWindow
from evbench.producers import ProducerPool
from evbench.runopts import add_run_options, broker_for, report_header
from evbench.soak_figures import (
    SHORT_RUN_S,
    IntervalLatencies,
    markdown,
    rss_growth,
    sample_line,
    steadiness,
    verdicts,
    warm_index,
)
from evbench.step import Step, StepOptions
from evharness.procs import ROOT
from evhost.cliargs import count, positive
from evwire.trace import configure, log

SPARE_FDS = 300  # as evbench.loadgen: Kafka clients, SQLite, logs, driver connections
NO_PROCESS = {"cpu_percent": None, "rss_mib": None, "peak_rss_mib": None}


class SoakStep(Step):
    """A load step whose window is sampled every sample_s seconds."""

    def __init__(self, opts: StepOptions, bootstrap: str, workdir: Path, sample_s: float):
        super().__init__(opts, bootstrap, workdir)
        self.sample_s = sample_s
        self.samples: list[dict] = []
        self.latencies: IntervalLatencies | None = None
        self._cursor = 0  # events.data taken into self.latencies so far

    def _take_records(self) -> None:
        """Bucket what the drivers received since the last call (the consumer appends)."""
        assert self.latencies is not None
        end = len(self.events.data)
        self.latencies.add(self.events.data[self._cursor:end])
        self._cursor = end

    def _meters(self) -> dict[str, CpuWindow | None]:
        pids = {"central": self.central.pid, "broker": self.opts.broker_pid,
                "generator": os.getpid()}
        return {name: CpuWindow(pid).start() if pid else None for name, pid in pids.items()}

    async def _window(self) -> None:
        opts = self.opts
        print(f"-- soak window: {opts.window_s / 60:g} min, sample every {self.sample_s:g} s; "
              f"Central pid {self.central.pid}, broker pid {opts.broker_pid}", flush=True)
        windows = self._start_windows()
        start_ms = time.time() * 1000
        self.window_ms = (start_ms, 0.0)
        self.latencies = IntervalLatencies(start_ms, self.sample_s, opts.window_s)
        self._cursor = len(self.events.data)
        meters = self._meters()
        sent_before = sent_mark = len(self.fleet.sent_ids)
        received_mark = len(self.events.data)
        loop = asyncio.get_running_loop()
        began = loop.time()
        for k in range(len(self.latencies.buckets)):
            t_s = min((k + 1) * self.sample_s, opts.window_s)
            await asyncio.sleep(max(0.0, began + t_s - loop.time()))
            sent, received = len(self.fleet.sent_ids), len(self.events.data)
            sample: dict = {"t_s": round(t_s, 1), "sent": sent - sent_mark,
                            "received": received - received_mark}
            sent_mark, received_mark = sent, received
            for name, meter in meters.items():
                sample[name] = meter.stop() if meter is not None else dict(NO_PROCESS)
                if meter is not None:
                    meter.start()
            self._take_records()
            sample["latency"] = self.latencies.summary(k)
            self.samples.append(sample)
            print(sample_line(sample), flush=True)
        self.window_ms = (start_ms, time.time() * 1000)
        self.sent_in_window = len(self.fleet.sent_ids) - sent_before
        self._stop_windows(windows)
        self.probe_sessions = []  # probe_cps 0: every session is the ramp's

    async def _drain(self, producers: ProducerPool) -> None:
        await super()._drain(producers)
        self._take_records()  # every record is in now (or lost): the final per-interval figures
        assert self.latencies is not None
        for k, sample in enumerate(self.samples):
            sample["latency"] = self.latencies.summary(k)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evbench.soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cps", type=count, default=1000, help="charge points (default %(default)s)")
    p.add_argument("--minutes", type=positive, default=60.0,
                   help="length of the measured window (default %(default)s)")
    p.add_argument("--sample-s", type=positive, default=60.0,
                   help="seconds between samples (default %(default)s)")
    p.add_argument("--table-every", type=positive, default=5.0,
                   help="minutes between the Markdown table's rows, for runs of 10 minutes "
                        "or more (default %(default)s); shorter runs show every sample")
    add_run_options(p)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "soak.json")
    p.add_argument("--md", type=Path, help="the Markdown report (default: --out as .md)")
    return p


def step_options(args: argparse.Namespace, broker_pid: int | None) -> StepOptions:
    return StepOptions(cps=args.cps, window_s=args.minutes * 60, ramp_rate=args.ramp_rate,
                       probe_cps=0, drain_s=args.drain + args.cps / 200, storm=False,
                       log_level=args.central_log_level, broker_pid=broker_pid)


def judge(report: dict, step: SoakStep | None) -> None:
    """Samples, RSS growth, losses, p99 steadiness and the verdicts, into the report."""
    samples = step.samples if step is not None else []
    window_s = report["settings"]["minutes"] * 60
    report["samples"] = samples
    report["step"] = step.result if step is not None else None
    report["warm_index"] = warm_index([s["t_s"] for s in samples], window_s)
    report["rss_growth"] = rss_growth(samples, window_s)
    report["p99"] = steadiness([s["latency"]["p99_ms"] for s in samples])
    losses = step_losses(report["step"] or {}, f"soak of {report['settings']['cps']} CPs")
    if report.get("error") or not (report["step"] or {}).get("telemetry"):
        losses = losses or ["the run did not finish its drain: losses unknown"]
    report["losses"] = losses
    tele = (report["step"] or {}).get("telemetry") or {}
    tickets = (report["step"] or {}).get("tickets") or {}
    delivered = (f"{tele.get('received')} of {tele.get('sent')} records, "
                 f"{tickets.get('received')} of {tickets.get('expected')} tickets delivered")
    report["verdicts"] = verdicts(report["rss_growth"], losses, report["p99"], delivered)


def write(report: dict, out: Path, md: Path, table_every_s: float) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(markdown(report, table_every_s))
    print(f"wrote {out} and {md}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure(tier="evbench", level=args.log_level)
    fd_limit = raise_fd_limit()
    if args.cps + SPARE_FDS > fd_limit:
        print(f"open-files limit {fd_limit} too low for {args.cps} CPs", file=sys.stderr)
        return 1
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="evbench-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # Its settings first: a run that breaks before its broker answers is still reported.
    report: dict = {"settings": {k: (str(v) if isinstance(v, Path) else v)
                                 for k, v in vars(args).items()}}
    step: SoakStep | None = None
    code = 0
    try:
        with broker_for(args, workdir) as (bootstrap, broker_pid):
            report.update(report_header("evbench.soak", argv, args, bootstrap),
                          broker_pid=broker_pid)
            step = SoakStep(step_options(args, broker_pid), bootstrap, workdir / "step",
                            args.sample_s)
            asyncio.run(step.run())
    except KeyboardInterrupt:
        report["error"], code = "interrupted", 130
    except Exception as exc:  # the tool broke: keep what was measured, say so
        log("error", f"soak failed: {exc!r}")
        report["error"], code = f"{type(exc).__name__}: {exc}", 1
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    judge(report, step)
    every_s = (max(args.sample_s, args.table_every * 60) if args.minutes * 60 >= SHORT_RUN_S
               else args.sample_s)
    write(report, args.out, args.md or args.out.with_suffix(".md"), every_s)
    for v in report["verdicts"]:
        print(f"{({True: 'PASS', False: 'FAIL', None: 'n/a '})[v['ok']]}  {v['name']}: "
              f"{v['detail']}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""Zones side by side in one process: the engine's scheduler, with a stand-in runner (no Spark).

The stand-in records when each zone starts and ends; the checks are the scheduler's promises: a
zone starts only after every zone it reads has ended, independent zones overlap, never more than
``workers`` run at once, a failed zone's downstream is skipped while the other branches go on, and
one worker is the plain run order. That the tables equal a one-by-one run is shown by every other
test: the suite runs with the default of two.
"""
from __future__ import annotations

import threading
import time

import pytest

from lakehouse.engine import _execute
from lakehouse.project import load_project
from lakehouse.results import FAILED, OK, SKIPPED, ZoneResult
from tests.conftest import STEDI_CONFIGS


class StandIn:
    """Runs a zone by sleeping ``seconds[zone]`` (default 0.05); ``fail`` zones end failed."""

    def __init__(self, graph, seconds=None, fail=()):
        self.graph, self.seconds, self.fail = graph, seconds or {}, set(fail)
        self.events: list[tuple[float, str, str]] = []
        self.lock = threading.Lock()
        self.running = self.most = 0

    def run(self, name: str) -> ZoneResult:
        with self.lock:
            self.events.append((time.perf_counter(), "start", name))
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds.get(name, 0.05))
        with self.lock:
            self.running -= 1
            self.events.append((time.perf_counter(), "end", name))
        zone = self.graph.zones[name]
        return ZoneResult(name, zone.target.table, zone.layer, status=FAILED if name in self.fail else OK)

    def at(self, what: str, name: str) -> float:
        return next(t for t, w, n in self.events if w == what and n == name)


@pytest.fixture(scope="module")
def graph():
    return load_project(STEDI_CONFIGS, with_suites=False).graph


def schedule(graph, workers, **standin):
    runner, results, order = StandIn(graph, **standin), {}, []
    _execute(graph.order, graph, runner, workers, results, None, lambda r: order.append(r.zone))
    return runner, results, order


def test_a_zone_starts_only_after_the_zones_it_reads(graph):
    runner, results, _ = schedule(graph, 3, seconds={"customer_landing": 0.3, "accelerometer_landing": 0.2})
    assert set(results) == set(graph.order) and all(r.status == OK for r in results.values())
    for name in graph.order:
        for upstream in graph.depends_on[name]:
            assert runner.at("end", upstream) <= runner.at("start", name), f"{name} started before {upstream} ended"


def test_independent_zones_overlap_but_never_more_than_the_workers(graph):
    runner, _, _ = schedule(graph, 2, seconds={"accelerometer_landing": 0.4})
    assert runner.most == 2
    # customer_trusted reads only customer_landing: it runs while accelerometer_landing still does.
    assert runner.at("start", "customer_trusted") < runner.at("end", "accelerometer_landing")


def test_the_longest_chain_starts_first(graph):
    runner, _, _ = schedule(graph, 2)
    first = [n for _, w, n in runner.events if w == "start"][:2]
    # customer_landing heads six zones (landing, trusted, accelerometer_trusted, curated, step
    # trainer trusted, machine learning); accelerometer_landing five: both before step_trainer_landing.
    assert first == ["customer_landing", "accelerometer_landing"]


def test_one_worker_is_the_run_order(graph):
    runner, _, order = schedule(graph, 1)
    assert runner.most == 1
    assert [n for _, w, n in runner.events if w == "start"] == graph.order == order


def test_a_failed_zone_skips_its_downstream_and_the_other_branches_go_on(graph):
    runner, results, _ = schedule(graph, 2, fail={"step_trainer_landing"})
    assert results["step_trainer_landing"].status == FAILED
    skipped = {n for n, r in results.items() if r.status == SKIPPED}
    assert skipped == graph.downstream("step_trainer_landing") == {"step_trainer_trusted", "machine_learning_curated"}
    assert all("step_trainer_landing failed" in results[n].message for n in skipped)
    assert {n for _, w, n in runner.events if w == "start"} == set(graph.order) - skipped
    assert results["customer_curated"].status == OK

"""The event-loop metrics expose exactly what prometheus_client's own would, and a scrape in
another thread always sees a consistent histogram."""

from __future__ import annotations

import re
import threading

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from app.telemetry.catalog import Spec
from app.telemetry.loop_metrics import LoopCounter, LoopHistogram

COUNTER = Spec("t_requests_total", "counter", "Requests.", ("route", "code"))
HISTOGRAM = Spec("t_duration_seconds", "histogram", "Duration.", ("route",), (0.005, 0.01, 1.0))
PLAIN = Spec("t_age_seconds", "histogram", "Age.", (), (0.0, 86_400.0))
# Values on an edge belong to that edge's bucket (`le`); 100 is beyond the last edge.
VALUES = (0.0, 0.001, 0.005, 0.0050001, 0.01, 0.5, 1.0, 100.0)
TRACE = {"trace_id": "0af7651916cd43dd8448eb211c80319c"}


def _both() -> tuple[CollectorRegistry, CollectorRegistry]:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counter, histogram, plain = (
        LoopCounter(COUNTER, ours),
        LoopHistogram(HISTOGRAM, ours),
        LoopHistogram(PLAIN, ours),
    )
    reference = (
        Counter(COUNTER.name, COUNTER.help, COUNTER.labels, registry=theirs),
        Histogram(
            HISTOGRAM.name,
            HISTOGRAM.help,
            HISTOGRAM.labels,
            buckets=HISTOGRAM.buckets,
            registry=theirs,
        ),
        Histogram(PLAIN.name, PLAIN.help, buckets=PLAIN.buckets, registry=theirs),
    )
    counter.labels("/a", 404)  # pre-initialised: exposed at 0
    reference[0].labels("/a", "404")
    for i, value in enumerate(VALUES):
        exemplar = TRACE if i % 3 == 0 else None
        counter.labels("/a", 200).inc()
        reference[0].labels("/a", "200").inc()
        histogram.labels("/a").observe(value, exemplar)
        reference[1].labels("/a").observe(value, exemplar)
        plain.observe(value * 86_400)
        reference[2].observe(value * 86_400)
    return ours, theirs


def _without_exemplar_times(text: bytes) -> str:
    # An exemplar carries the wall-clock time of its observation, different on each side.
    return re.sub(r"(# \{[^}]*\} \S+) \S+$", r"\1", text.decode(), flags=re.MULTILINE)


def test_text_exposition_matches_prometheus_client() -> None:
    ours, theirs = _both()
    assert generate_latest(ours) == generate_latest(theirs)


def test_openmetrics_exposition_matches_with_exemplars() -> None:
    ours, theirs = _both()
    mine = _without_exemplar_times(openmetrics_latest(ours))
    assert mine == _without_exemplar_times(openmetrics_latest(theirs))
    assert f'# {{trace_id="{TRACE["trace_id"]}"}} 0.0' in mine  # the 0.0 observation's bucket


def test_labels_must_match_the_spec() -> None:
    counter = LoopCounter(COUNTER, CollectorRegistry())
    with pytest.raises(ValueError, match="takes labels"):
        counter.labels("/a")


def test_a_scrape_during_writes_sees_a_consistent_histogram() -> None:
    registry = CollectorRegistry()
    histogram = LoopHistogram(HISTOGRAM, registry).labels("/a")
    done, problems, scrapes = threading.Event(), [], [0]

    def scrape() -> None:
        while not done.is_set():
            for family in registry.collect():
                buckets = [s.value for s in family.samples if s.name.endswith("_bucket")]
                count = next(s.value for s in family.samples if s.name.endswith("_count"))
                if buckets != sorted(buckets) or buckets[-1] != count:
                    problems.append((buckets, count))
            scrapes[0] += 1

    reader = threading.Thread(target=scrape)
    reader.start()
    n = 200_000
    for i in range(n):
        histogram.observe((i % 7) * 0.004)
    done.set()
    reader.join()
    assert problems == []
    assert scrapes[0] > 10
    assert sum(histogram.counts) == n

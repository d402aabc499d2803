"""Erlang C staffing: how many agents an interval needs to answer a share of calls in time.

No Dagster import: plain functions, and ``erlang_c_staffing`` for the KPI SQL (registered on
every connection ``storage.mart.local_connection`` opens).

A = offered calls x AHT / interval seconds (Erlangs), N agents (N > A):

    C(N, A)  = P(wait) = [A^N/N! * N/(N-A)] / [sum_{k<N} A^k/k! + A^N/N! * N/(N-A)]
    SL(T)    = 1 - C * exp(-(N - A) * T / AHT)
    ASA      = C * AHT / (N - A)
    occupancy = A / N

C comes from the Erlang B recursion B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1)) and
C = N B / (N - A (1 - B)): no factorial or power, so it stays exact in floating point for
hundreds of Erlangs, where A^N/N! would overflow; the search for N runs the recursion once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Staffing:
    agents: int
    wait_probability: float
    service_level: float
    asa_seconds: float
    occupancy: float


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability B(N, A) by the recursion."""
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def wait_probability(agents: int, traffic: float) -> float:
    """Erlang C: the probability that a call waits, C(N, A), for N > A."""
    if agents <= traffic:
        raise ValueError(f"Erlang C needs more agents than Erlangs (N={agents}, A={traffic})")
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1 - b))


def service_level(agents: int, traffic: float, aht_seconds: float, target_seconds: float) -> float:
    """Share of calls answered within ``target_seconds``."""
    c = wait_probability(agents, traffic)
    return 1 - c * math.exp(-(agents - traffic) * target_seconds / aht_seconds)


def asa_seconds(agents: int, traffic: float, aht_seconds: float) -> float:
    """Average speed of answer over all calls."""
    return wait_probability(agents, traffic) * aht_seconds / (agents - traffic)


def required_agents(
    traffic: float,
    aht_seconds: float,
    target_seconds: float = 20,
    target_level: float = 0.8,
    max_occupancy: float = 0.85,
) -> Staffing:
    """The smallest N > A whose service level reaches ``target_level`` with A/N at most
    ``max_occupancy``, and the figures at that N. One pass of the recursion: O(N)."""
    if not 0 < target_level < 1 or not 0 < max_occupancy <= 1:
        raise ValueError("target_level must be in (0, 1) and max_occupancy in (0, 1]")
    if traffic < 0 or aht_seconds < 0 or math.isnan(traffic) or math.isnan(aht_seconds):
        raise ValueError(f"traffic and AHT must be numbers >= 0 (A={traffic}, AHT={aht_seconds})")
    if traffic == 0:
        return Staffing(1, 0.0, 1.0, 0.0, 0.0)
    b, n = 1.0, 0
    while True:
        n += 1
        b = traffic * b / (n + traffic * b)
        if n <= traffic:
            continue
        c = n * b / (n - traffic * (1 - b))
        sl = 1 - c * math.exp(-(n - traffic) * target_seconds / aht_seconds)
        if sl >= target_level and traffic / n <= max_occupancy:
            return Staffing(n, c, sl, c * aht_seconds / (n - traffic), traffic / n)


#: The SQL name of ``required_agents`` once ``register_in_duckdb`` has run on a connection.
SQL_FUNCTION = "erlang_c_staffing"


def register_in_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    """Makes ``erlang_c_staffing(traffic, aht, target_seconds, target_level, max_occupancy)``
    callable in SQL: a struct of ``agents``, ``service_level``, ``asa_seconds``,
    ``occupancy``; null in, null out. A row-at-a-time Python function: a day has at most 96
    intervals, and unlike an Arrow function it needs no pandas import (seconds on a busy
    machine)."""

    def staffing(
        traffic: float, aht: float, target_seconds: float, target_level: float, occupancy: float
    ) -> dict[str, float]:
        sized = required_agents(traffic, aht, target_seconds, target_level, occupancy)
        return {
            "agents": sized.agents,
            "service_level": sized.service_level,
            "asa_seconds": sized.asa_seconds,
            "occupancy": sized.occupancy,
        }

    result = duckdb.struct_type(
        {
            "agents": "BIGINT",
            "service_level": "DOUBLE",
            "asa_seconds": "DOUBLE",
            "occupancy": "DOUBLE",
        }
    )
    con.create_function(
        SQL_FUNCTION, staffing, ["DOUBLE"] * 5, result, type="native", side_effects=False
    )

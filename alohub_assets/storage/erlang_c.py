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
hundreds of Erlangs, where A^N/N! would overflow. ``size_intervals`` runs the recursion for
many intervals at once (numpy), one step per agent count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


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
    ``max_occupancy``, and the figures at that N."""
    agents, c, sl, asa, occ = size_intervals(
        np.array([traffic], dtype=float),
        np.array([aht_seconds], dtype=float),
        target_seconds,
        target_level,
        max_occupancy,
    )
    return Staffing(int(agents[0]), float(c[0]), float(sl[0]), float(asa[0]), float(occ[0]))


def size_intervals(
    traffic: np.ndarray,
    aht_seconds: np.ndarray,
    target_seconds: float,
    target_level: float,
    max_occupancy: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``required_agents`` for many intervals at once: (agents, P(wait), service level, ASA
    seconds, occupancy) arrays; NaN (agents -1) where traffic or AHT is NaN or negative."""
    if not 0 < target_level < 1 or not 0 < max_occupancy <= 1:
        raise ValueError("target_level must be in (0, 1) and max_occupancy in (0, 1]")
    a = np.asarray(traffic, dtype=float)
    aht = np.asarray(aht_seconds, dtype=float)
    size = a.shape[0]
    agents = np.full(size, -1, dtype=np.int64)
    out_c, out_sl, out_asa, out_occ = (np.full(size, np.nan) for _ in range(4))
    todo = np.isfinite(a) & np.isfinite(aht) & (a >= 0) & (aht >= 0)
    b = np.ones(size)
    n = 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while todo.any():
            n += 1
            b = a * b / (n + a * b)
            ready = todo & (n > a)
            if not ready.any():
                continue
            c = n * b / (n - a * (1 - b))
            decay = np.where(a > 0, np.exp(-(n - a) * target_seconds / aht), 0.0)
            sl = 1 - c * decay
            occ = a / n
            done = ready & (sl >= target_level) & (occ <= max_occupancy)
            agents[done] = n
            out_c[done] = c[done]
            out_sl[done] = sl[done]
            out_asa[done] = np.where(a[done] > 0, c[done] * aht[done] / (n - a[done]), 0.0)
            out_occ[done] = occ[done]
            todo &= ~done
    return agents, out_c, out_sl, out_asa, out_occ


#: The SQL name of ``size_intervals`` once ``register_in_duckdb`` has run on a connection.
SQL_FUNCTION = "erlang_c_staffing"


def register_in_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    """Makes ``erlang_c_staffing(traffic, aht, target_seconds, target_level, max_occupancy)``
    callable in SQL: a vectorized (Arrow) function returning a struct of ``agents``,
    ``service_level``, ``asa_seconds``, ``occupancy``; null in, null out."""

    def staffing(
        traffic: pa.Array,
        aht: pa.Array,
        target_seconds: pa.Array,
        target_level: pa.Array,
        max_occupancy: pa.Array,
    ) -> pa.StructArray:
        targets = (target_seconds, target_level, max_occupancy)
        if len(traffic) == 0:
            agents, sl, asa, occ = np.array([], dtype=np.int64), *[np.array([])] * 3
        else:
            if any(len(pc.unique(t)) != 1 or t.null_count for t in targets):
                raise ValueError(f"{SQL_FUNCTION}: the three targets must be constants")
            agents, _, sl, asa, occ = size_intervals(
                traffic.to_numpy(zero_copy_only=False),
                aht.to_numpy(zero_copy_only=False),
                *(t[0].as_py() for t in targets),
            )
        return pa.StructArray.from_arrays(
            [
                pa.array(agents, mask=agents < 0),
                pa.array(sl, from_pandas=True),
                pa.array(asa, from_pandas=True),
                pa.array(occ, from_pandas=True),
            ],
            names=["agents", "service_level", "asa_seconds", "occupancy"],
        )

    result = duckdb.struct_type(
        {
            "agents": "BIGINT",
            "service_level": "DOUBLE",
            "asa_seconds": "DOUBLE",
            "occupancy": "DOUBLE",
        }
    )
    con.create_function(
        SQL_FUNCTION, staffing, ["DOUBLE"] * 5, result, type="arrow", side_effects=False
    )

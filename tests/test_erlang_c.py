"""Erlang C against the issue's factorial formula, evaluated independently in log space."""

from __future__ import annotations

import math

import pytest

from alohub_assets.storage.erlang_c import (
    asa_seconds,
    required_agents,
    service_level,
    wait_probability,
)


def reference_wait_probability(n: int, a: float) -> float:
    """C(N, A) = [A^N/N! * N/(N-A)] / [sum_{k<N} A^k/k! + A^N/N! * N/(N-A)], terms as logs."""
    log_terms = [k * math.log(a) - math.lgamma(k + 1) for k in range(n)]
    log_top = n * math.log(a) - math.lgamma(n + 1) + math.log(n / (n - a))
    peak = max([*log_terms, log_top])
    top = math.exp(log_top - peak)
    return top / (sum(math.exp(t - peak) for t in log_terms) + top)


def reference_required(a: float, aht: float, t: float, target: float, max_occ: float) -> int:
    n = math.floor(a) + 1
    while True:
        c = reference_wait_probability(n, a)
        sl = 1 - c * math.exp(-(n - a) * t / aht)
        if sl >= target and a / n <= max_occ:
            return n
        n += 1


def test_reference_case_100_calls_in_30_minutes():
    staffing = required_agents(100 * 180 / 1800, 180, target_seconds=20, target_level=0.8)
    assert staffing.agents == 14
    assert round(staffing.service_level, 3) == 0.888
    assert staffing.occupancy == pytest.approx(10 / 14)
    assert staffing.wait_probability == pytest.approx(reference_wait_probability(14, 10.0))
    assert staffing.asa_seconds == pytest.approx(
        reference_wait_probability(14, 10.0) * 180 / (14 - 10)
    )


@pytest.mark.parametrize("a", [0.3, 2.5, 10.0, 47.9, 180.0, 420.5, 800.0])
def test_recursion_matches_the_factorial_formula_up_to_hundreds_of_erlangs(a):
    for n in (math.floor(a) + 1, math.floor(a) + 5, math.ceil(a * 1.2) + 1):
        assert wait_probability(n, a) == pytest.approx(reference_wait_probability(n, a), rel=1e-9)
    assert service_level(n, a, 200, 20) == pytest.approx(
        1 - reference_wait_probability(n, a) * math.exp(-(n - a) * 20 / 200), rel=1e-9
    )
    assert asa_seconds(n, a, 200) == pytest.approx(
        reference_wait_probability(n, a) * 200 / (n - a), rel=1e-9
    )
    assert required_agents(a, 200).agents == reference_required(a, 200, 20, 0.8, 0.85)


def test_occupancy_cap_and_targets_are_settings():
    # 500 Erlangs reach 80/20 with few spare agents; the occupancy cap then decides N.
    capped = required_agents(500.0, 180, max_occupancy=0.85)
    assert capped.agents == math.ceil(500 / 0.85) and capped.occupancy <= 0.85
    loose = required_agents(500.0, 180, max_occupancy=1.0)
    assert loose.agents < capped.agents
    assert loose.agents == reference_required(500.0, 180, 20, 0.8, 1.0)
    strict = required_agents(10.0, 180, target_seconds=10, target_level=0.95)
    assert strict.agents == reference_required(10.0, 180, 10, 0.95, 0.85) > 14


def test_no_traffic_needs_one_idle_agent_and_bad_input_is_refused():
    idle = required_agents(0.0, 0.0)
    assert (idle.agents, idle.service_level, idle.occupancy) == (1, 1.0, 0.0)
    for traffic, aht in ((-1.0, 180.0), (float("nan"), 180.0)):
        with pytest.raises(ValueError):
            required_agents(traffic, aht)
    with pytest.raises(ValueError):
        required_agents(10.0, 180.0, target_level=1.0)


def test_the_sql_function_gives_the_same_figures_and_null_for_null():
    import duckdb

    from alohub_assets.storage.erlang_c import register_in_duckdb

    con = duckdb.connect()
    register_in_duckdb(con)
    rows = con.execute(
        "SELECT a, erlang_c_staffing(a, 180.0, 20, 0.8, 0.85) AS s "
        "FROM (VALUES (10.0), (NULL), (300.5)) AS t(a) ORDER BY a NULLS LAST"
    ).fetchall()
    for a, sized in rows[:2]:
        one = required_agents(float(a), 180)
        assert sized == pytest.approx(
            {
                "agents": one.agents,
                "service_level": one.service_level,
                "asa_seconds": one.asa_seconds,
                "occupancy": one.occupancy,
            }
        )
    assert rows[0][1]["agents"] == 14
    assert rows[2] == (None, None)

"""The baseline of benchmark 5: a one-asset Dagster project that does nothing."""

import dagster as dg


@dg.asset
def noop() -> None:
    """Nothing at all: what `dagster asset materialize` costs by itself."""


defs = dg.Definitions(assets=[noop], executor=dg.in_process_executor)

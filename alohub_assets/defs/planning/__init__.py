"""Planning: the call-volume forecast, the staffing plan and the forecasts' accuracy (one
``<table>.py`` + ``<table>.sql`` each; the math in ``storage/forecasting.py``, ``erlang_a.py``)."""

from alohub_assets.defs.planning.call_volume_forecast import call_volume_forecast
from alohub_assets.defs.planning.forecast_accuracy import forecast_accuracy
from alohub_assets.defs.planning.staffing_plan import staffing_plan

PLANNING_ASSETS = [call_volume_forecast, staffing_plan, forecast_accuracy]
__all__ = ["PLANNING_ASSETS"]

"""Server-side, accessible SVG charts (no JavaScript) for vital-sign trends."""

from __future__ import annotations

from app.charts.scales import (
    ALERT_TREND_WINDOW_MIN,
    CHART_FUTURE_HOURS,
    CHART_PAST_HOURS,
    FEEDBACK_WINDOW_MIN,
    PAST_WINDOW_MIN,
    VITAL_SCALES,
    VitalScale,
)
from app.charts.svg import ALERT_MARK, Mark, trend_svg, vital_table_rows, vital_trend_svg
from app.charts.text import TrendRow, describe_trend, format_rel_time, trend_table_rows

__all__ = [
    "ALERT_MARK",
    "ALERT_TREND_WINDOW_MIN",
    "CHART_FUTURE_HOURS",
    "CHART_PAST_HOURS",
    "FEEDBACK_WINDOW_MIN",
    "PAST_WINDOW_MIN",
    "VITAL_SCALES",
    "Mark",
    "TrendRow",
    "VitalScale",
    "describe_trend",
    "format_rel_time",
    "trend_svg",
    "trend_table_rows",
    "vital_table_rows",
    "vital_trend_svg",
]

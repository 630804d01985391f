"""Analytics for the brand: the community report (`fancare report`) and its short form (`fancare stats`).

    build_report(store, window) -> dict   # SQL aggregates, JSON-ready
    render_html(report) -> str            # self-contained HTML (charts embedded as PNG)
    format_stats(report) -> str           # a dozen lines for a terminal or Slack
"""

from bot.analytics.build import build_report, default_window, format_stats
from bot.analytics.html import render_html, write_report
from bot.analytics.queries import Window

__all__ = ["Window", "build_report", "default_window", "format_stats", "render_html", "write_report"]

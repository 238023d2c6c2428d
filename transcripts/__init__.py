"""Transcripts: typed events (`events`), writing and reading (`store`), run ids and paths (`paths`),
the run index (`index`), scoring (`scoring`), comparison and reports (`compare`, `report`, `report_html`)."""

__all__ = ["compare", "events", "index", "paths", "report", "report_html", "scoring", "store"]

"""cmdesk's KPI engine: order facts in Parquet, one definition per indicator, run by DuckDB or Spark.

Nothing in this package imports Django: it reads the data directory described in :mod:`cmdesk.analytics.layout`
and answers :class:`~cmdesk.analytics.query.KpiQuery` objects. The Django side (``cmdesk.kpi``) exports dimension
snapshots, turns a user's ``restrict()`` scope into a :class:`~cmdesk.analytics.query.Filter` and calls the engine.
"""

"""
What a try reports: its typed report (``report``), counted by ``metrics`` (one table of names and
kinds) and turned into OpenLineage by ``lineage`` (with its facet, ``facets``).
"""

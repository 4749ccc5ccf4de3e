"""
MoEngage's Business Events API as data and pure functions: what it accepts (``payload``,
``text_fields``, ``declared``), what each answer means (``outcomes``), its rate limits and data
centers. No HTTP and no Airflow here; ``outcomes`` names the exception classes it raises.
"""

"""
Exactly once, without HTTP: the delivery record and its decisions (``record``), where it is kept
(``stores``), announcements under an idempotency key (``idempotency``), settling an unknown outcome
from MoEngage's counters (``counters``), the retry policy, and one try of the trigger top to bottom
(``attempt``).
"""

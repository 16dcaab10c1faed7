"""Collections follow-up: receivables, dunning, promises, plans, disputes, worklist.

The library does the work (:mod:`claims.collections.dunning`, :mod:`.worklist`, :mod:`.records`);
``claims followup …`` and ``claims worklist`` only parse and print.
"""


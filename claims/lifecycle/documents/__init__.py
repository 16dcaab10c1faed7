"""Documents: a PDF inspected once at intake (:mod:`.pdf`) and its stored inspection
(:mod:`.stored`)."""

"""Reports built from the store: the operations report (:mod:`.operations`)."""

"""amk's writes, by job: territory (reference geography), incidents (the lifecycle), accounts."""

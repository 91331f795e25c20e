"""amk's reads, by job: territory (point lookups, place search, the region's anchors). The
console's reads are in amk.console."""

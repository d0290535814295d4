"""Personal data of candidates: sealed under per-candidate keys before anything is published, shown
through one name lookup, erased by destroying the key (docs/decisions/0008-erasure.md)."""

"""Audit export: every decision and effect from the event log as hash-chained JSON Lines, and the
check that finds an edited, removed, inserted or reordered record (docs/compliance.md)."""

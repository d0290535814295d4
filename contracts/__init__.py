"""The language of the system: envelope, events, commands, subjects, ids and error classes.

Imports only the standard library and pydantic, so every component can depend on it.
"""

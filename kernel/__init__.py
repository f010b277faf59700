"""Shared kernel: the few types and errors every domain package speaks.

It depends on nothing in the project, so every package may import it.
"""

"""Workflows on records (workflows/*.yaml): stage machines today, approval processes next.

`machine.py` decides whether a move of a stage field is allowed and where a record may go
(`allowed_moves`, for the board, the form and the API); `plugin.py` (a built-in plugin) applies
it to every create and update in the records service's transaction. See docs/workflows.md.
"""

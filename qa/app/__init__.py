"""The app's side of the browser page: its HTML, each browser session (its documents, those being read,
its conversation, as the browser keeps it), the pool that reads added documents, the conversation's
export, and the server's shared forward passes, admission gate, request limits and upload quota.
Imports anything below (``answering``, ``render``, ...); only ``app.py`` imports it.
"""

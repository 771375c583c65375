"""The app's side of the browser page: its HTML, a browser session as data, each session's workspace of
documents, and the server's shared forward passes, admission gate and request size limit.
Imports anything below (``answering``, ``render``, ...); only ``app.py`` imports it.
"""

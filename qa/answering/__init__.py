"""Answering: rank the candidates, the calibrated "answered", a question read in its conversation, the
``Answer`` it gets back, and the ``Engine`` that takes a question through every step.
Imports ``qa.documents``, ``qa.models`` and ``qa.retrieval``; never ``qa.cli`` or ``qa.app``.
"""

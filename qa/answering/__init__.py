"""Answering: the record a question travels as (``question``), read in its conversation, ranked with
the fitted weights (data files beside the code), the calibrated "answered", the ``Answer``, the ``Engine``.
Imports ``qa.documents``, ``qa.models``, ``qa.retrieval`` and ``qa.storage``; never ``qa.cli`` or ``qa.app``.
"""

"""Models: the embedders (one protocol, PyTorch and ONNX Runtime backends, the choice between them); the
trained reader goes here too.
Imports ``qa.errors``, ``qa.settings`` and ``qa.storage`` only (not ``qa.documents``: a model sees text).
"""

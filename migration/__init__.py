"""Conversion between TF1 checkpoints and Keras models, over one model
description with a plug-in per component kind.

    description     the model description: inputs, components, wiring
    kinds/          the component kinds (plug-ins) and their registry
    detection       what a TF1 checkpoint holds (names, shapes, dtypes)
    selection       what one conversion reads, converts, drops, leaves
    mapping         TF1 variables <-> Keras weights, from the kinds' tables
    models          description -> Keras model, and reading one back
    conformance     does a Keras model compute what its TF1 graph computes
    model_names     what a converted model's name records
    tf1_checkpoint  the LegacyState; reading and writing TF1 checkpoints
    optimizer_state TF1 Adam state <-> Keras optimizers
    legacy_graph    a description's TF1 graph from the legacy ports
    verification    --verify: a converted model against the TF1 side
    onnx_export     a converted model as an ONNX graph
    convert         LegacyState <-> Keras model, in memory
    exporters       file conversions: read, stage, verify, publish
    publish         safe outputs (the input never touched, all or nothing)
    errors          refusals, naming arguments as data
    live            a running TF1 Session <-> Keras models
"""

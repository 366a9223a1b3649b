"""What the legacy ports, the TF2 side, the converter and the commands share,
without TensorFlow: names, the seed jobs' data recipes, configs and results,
plots, safe file outputs, argument checks and tables (`tensorflow_startup`
imports TensorFlow only when called)."""

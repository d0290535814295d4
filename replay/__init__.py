"""Replay: the recorded events folded again through the evaluator's pure core with a virtual clock
(what-if a rule set, or --verify fidelity), its reports, and its HTTP and CLI surfaces."""

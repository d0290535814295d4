"""Fairness and compliance: demographic categories an operator imports, selection rates and impact
ratios of automated decisions, human-oversight numbers, and explanations for candidates."""

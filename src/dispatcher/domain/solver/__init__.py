"""Repair solvers: CP-SAT (exact, lexicographic) and a greedy fallback (also the oracle)."""

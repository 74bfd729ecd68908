"""Side-by-side speed comparisons of nnkit with scikit-learn, PyTorch, a hand-written
NumPy loop and the GEMM bound.

Run ``python -m benchmarks`` from the repository root (after ``pip install -e ".[bench]"``).
Not part of the test suite: timings on shared machines belong in ratios, not assertions.
"""

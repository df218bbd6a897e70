"""Shared test setup: make ``tests/`` importable for helper modules."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "store"))
sys.path.insert(0, str(Path(__file__).parent / "pipeline"))

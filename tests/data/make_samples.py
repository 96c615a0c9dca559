#!/usr/bin/python3
# Builds the small .npz fixtures used by tests/unit/test_core.c (run from this folder).
import numpy as np
x = np.arange(6, dtype=np.float32).reshape(2, 3)
ids = np.array([7, 8, 9], dtype=np.int64)
np.savez("sample.npz", x=x, ids=ids)
np.savez_compressed("sample_compressed.npz", x=x, ids=ids)

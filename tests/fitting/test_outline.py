"""The jaw outline's pieces against plain references."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tfvsdk_3ddfa.outline import _candidates_first


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 6), edges=st.integers(1, 300), share=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_candidate_edges_come_first_in_the_order_of_a_stable_sort(rows, edges, share, seed):
    candidates = torch.rand(rows, edges, generator=torch.Generator().manual_seed(seed)) < share
    stable = torch.sort(candidates.to(torch.uint8), dim=1, descending=True, stable=True).indices
    assert torch.equal(_candidates_first(candidates), stable)

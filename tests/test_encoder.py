"""The default encoder loads offline, pools as configured and caches on disk."""
import numpy as np
import pytest
import torch

from recsys_core.encoder import EncoderConfig, TextEncoder, pool
from recsys_core.errors import RecsysError


def test_pooling_ignores_padding():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(pool(hidden, mask, "mean"), torch.tensor([[2.0, 2.0]]))
    assert torch.allclose(pool(hidden, mask, "max"), torch.tensor([[3.0, 3.0]]))
    assert torch.allclose(pool(hidden, mask, "cls"), torch.tensor([[1.0, 1.0]]))


def test_unknown_pooling_is_refused():
    with pytest.raises(RecsysError, match="pooling"):
        EncoderConfig(pooling="median")


def test_encode_is_batch_independent_and_cached(tmp_path):
    enc = TextEncoder(EncoderConfig(batch_size=2), cache_dir=tmp_path)
    texts = ["title: a space crew", "title: a detective in the rain at night", "x"]
    together = enc.encode(texts)
    alone = np.stack([TextEncoder(EncoderConfig()).encode([t])[0] for t in texts])
    assert together.shape == (3, 384)
    np.testing.assert_allclose(together, alone, atol=1e-4)  # padding and length-sorting change nothing
    assert list(tmp_path.rglob("shard-*.npz"))
    reread = TextEncoder(EncoderConfig(batch_size=2), cache_dir=tmp_path)
    reread._encode_uncached = None  # any re-encoding would now fail loudly
    np.testing.assert_array_equal(reread.encode(texts), together)


def test_similar_texts_are_closer():
    enc = TextEncoder()
    v = enc.encode(["a crew of astronauts in space", "astronauts drift through space", "a chef cooks pasta"])
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_missing_encoder_path_is_a_clear_error(tmp_path):
    enc = TextEncoder(EncoderConfig(name=str(tmp_path / "no-such-model")))
    with pytest.raises(RecsysError, match="No encoder directory at"):
        enc.encode(["x"])


def test_unknown_model_id_is_a_clear_error():
    enc = TextEncoder(EncoderConfig(name="nobody/no-such-bert"))
    with pytest.raises(RecsysError, match="Could not load"):
        enc.encode(["x"])

"""The sizes ganzoo accepts from files it did not write: the caps checked before anything is allocated.

Each cap is read at the moment of the check (``limits.MAX_JSON_BYTES``, not a copy taken at
import), so a test or an application may lower one for a while.
"""

from __future__ import annotations

MAX_HEADER_BYTES = 16 << 20
"""A safetensors header (ganzoo's own are a few KB)."""

MAX_MODEL_BYTES = 2 << 30
"""Parameters and buffers of one GAN (generator plus discriminator), built or loaded."""

MAX_JSON_BYTES = 4 << 20
"""``ganzoo.json``, ``state.json``, ``latest.json``, ``config.json``, a receipt."""

MAX_ELEMENTS = 1 << 24
"""Elements of one sample (a bundle's ``data_shape``)."""

MAX_DIM = 1 << 16
"""``latent_dim``, ``num_classes``, widths and other integer settings of a bundle."""

MAX_LIST = 64
"""Items of a list setting of a bundle (e.g. hidden layer sizes)."""

MAX_DATASET_BYTES = 8 << 30
"""A dataset held in memory as one ``uint8`` tensor: an image folder (images x channels x height x
width at the model's size), an IDX file's body, ``bench``'s random data. Checked before any of it
is allocated; the engine also moves it to the device whole."""

MAX_FOLDER_IMAGES = 1_000_000
"""Image files in a ``--dataset folder`` folder (counted before any is opened; reading costs
about a millisecond per file)."""

# --------------------------------------------------------------------------- the evaluation protocol
# What one evaluation may ask for. `ganzoo eval --verify` takes these numbers from a receipt that
# anyone may have written, so each is checked (with the seed) before a dataset, a feature network
# or the generator is loaded: a request beyond them is refused in one line, naming the limit.
# The protocol's own values (10,000 samples in chunks of 500, 100 KID subsets of 1,000) are far below.

MAX_EVAL_SAMPLES = 100_000
"""Generated samples of one evaluation (``n``, also a receipt's ``protocol.n``); FID-50k needs 50,000."""

MAX_EVAL_BATCH_SIZE = 10_000
"""Samples per ``generator.sample`` call of an evaluation (``batch_size``)."""

MAX_KID_SUBSETS = 1_000
"""Random subsets KID averages over (``protocol.kid.subsets`` of a receipt; the protocol uses 100)."""

MAX_KID_SUBSET_SIZE = 100_000
"""Samples per KID subset (``protocol.kid.subset_size``; the protocol uses at most 1,000)."""

MAX_SEED = 2**64 - 1
"""The largest seed of sampling noise (``--seed``): what a ``torch.Generator`` accepts."""

"""Property-based fuzzing of the core's entry points: whatever arrays, settings or bytes come in, the
only exception that may come out is the project's own :class:`XraySepError` with a message."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from napari_xraysep import AutoEncoderSettings, ColourMapSettings, SeparationConfig, XraySepError, load_model
from napari_xraysep.core import prepare_inputs, region_from_boxes
from napari_xraysep.core.labeled import labeled_surface_xray

DTYPES = st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64, np.bool_, np.complex64])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=12)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def arrays(shape=SHAPES):
    return DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, shape, elements=_elements(dtype)))


def _elements(dtype):
    if np.issubdtype(dtype, np.floating):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if np.issubdtype(dtype, np.complexfloating):
        return st.complex_numbers(width=64, allow_nan=False, allow_infinity=False)
    return None


def _only_our_errors(call):
    """``call()``'s value, or None when it refused with our own error (any other exception fails)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return call()
        except XraySepError as error:
            assert str(error)  # a sentence, not an empty error
            return None


@FUZZ
@given(x=arrays(), rgb=arrays(), region=st.one_of(st.none(), arrays()))
def test_prepare_inputs_accepts_or_explains(x, rgb, region):
    def call():
        inputs = prepare_inputs(x, rgb, region)
        # what gets through is finite, unit-range data of matching shapes
        assert np.isfinite(inputs.x_mixed).all() and np.isfinite(inputs.rgb_surface).all()
        assert inputs.rgb_surface.shape == (3, *inputs.x_mixed.shape)
        assert inputs.x_mixed.min() >= -1e-6 and inputs.x_mixed.max() <= 1 + 1e-6
        if inputs.region_mask is not None:
            assert inputs.region_mask.any() and inputs.region_mask.shape == inputs.x_mixed.shape
            labeled_surface_xray(inputs.x_mixed, inputs.rgb_surface, inputs.region_mask)

    _only_our_errors(call)


@FUZZ
@given(
    boxes=st.lists(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6), min_size=0, max_size=6), max_size=4),
    shape=st.tuples(st.integers(1, 40), st.integers(1, 40)),
)
def test_region_boxes_accept_or_explain(boxes, shape):
    mask = _only_our_errors(lambda: region_from_boxes(boxes, shape))
    assert mask is None or (mask.shape == shape and mask.dtype == bool and mask.any())


SETTING_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 1000), st.floats(allow_nan=True), st.text(max_size=8),
    st.sampled_from(["fast", "paper", "rms", "linear", "cpu", "auto"]),
)


# The nested record's names, the flat names of 0.1/0.2 records (and of every face), one unknown.
NAMES = [*SeparationConfig().to_dict(), *(f.name for kind in (ColourMapSettings, AutoEncoderSettings) for f in dataclasses.fields(kind)), "bogus"]


@FUZZ
@given(values=st.dictionaries(st.sampled_from(NAMES), SETTING_VALUES, max_size=5))
def test_settings_accept_or_explain(values):
    config = _only_our_errors(lambda: SeparationConfig.from_dict(values))
    assert config is None or SeparationConfig.from_dict(config.to_dict()) == config


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048), zip_header=st.booleans())
def test_model_files_of_random_bytes_are_refused(tmp_path_factory, data, zip_header):
    path = tmp_path_factory.mktemp("fuzz") / "model.pt"
    path.write_bytes((b"PK\x03\x04" if zip_header else b"") + data)
    assert _only_our_errors(lambda: load_model(path)) is None  # random bytes are never a model

import warnings

import numpy as np
import pytest

from napari_xraysep.core.tiling import block_means, patch_grid, patch_starts, random_corners, tiles


def test_paper_grid_has_17381_patches():
    # Section IV: 500×1000 px, 50×50 patches, 45 px overlap (stride 5) → 17 381 patches.
    assert len(patch_starts(500, 50, 5)) == 91
    assert len(patch_grid((500, 1000), 50, 5)) == 17381


def test_patch_starts_end_flush_when_stride_does_not_divide():
    np.testing.assert_array_equal(patch_starts(12, 5, 3), [0, 3, 6, 7])
    np.testing.assert_array_equal(patch_starts(5, 5, 3), [0])


def test_random_corners_stay_inside(rng):
    corners = random_corners(rng, (40, 30), 16, 500)
    assert corners[:, 0].min() >= 0 and corners[:, 0].max() <= 24
    assert corners[:, 1].min() >= 0 and corners[:, 1].max() <= 14


def test_tiles_cover_every_pixel_once_with_halo_inside_the_image():
    shape = (37, 53)
    count = np.zeros(shape, int)
    for tile in tiles(shape, 16, 5):
        count[tile.core] += 1
        oy, ox = tile.outer
        assert oy.start >= 0 and ox.start >= 0 and oy.stop <= shape[0] and ox.stop <= shape[1]
        # the core sits inside the outer block at the stated offset, with ≥ 5 px of context where possible
        cy, cx = tile.core
        assert tile.inner[0].start == cy.start - oy.start and tile.inner[1].start == cx.start - ox.start
        assert cy.start - oy.start == min(5, cy.start)
    np.testing.assert_array_equal(count, 1)


def test_sample_blocks_spread_a_bounded_number_of_pixels_over_a_large_image():
    from napari_xraysep.core.tiling import sample_blocks

    assert sample_blocks((300, 400), max_pixels=300 * 400) == [(slice(0, 300), slice(0, 400))]  # small: itself
    blocks = sample_blocks((1000, 4000), max_pixels=4 * 100 * 100, block=100)
    assert len(blocks) == 4 and all(b[0].stop - b[0].start == b[1].stop - b[1].start == 100 for b in blocks)
    assert blocks[0] == (slice(0, 100), slice(0, 100)) and blocks[-1][1].stop == 4000  # corner to corner
    assert len({b[0].start for b in blocks}) == 1  # a wide image gets a row of blocks
    assert len(sample_blocks((50, 60), max_pixels=100, block=512)) == 1  # at least one block


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "factor", "budget"), [((37, 45), 4, 1 << 22), ((37, 45, 3), 5, 60), ((6, 7), 8, 4)])
@pytest.mark.parametrize("missing", [False, True])
def test_block_means_of_a_float_image_are_the_blocks_nanmeans(dtype, shape, factor, budget, missing) -> None:
    rng = np.random.default_rng(5)
    image = (rng.normal(size=shape) * 100 + 3000).astype(dtype)
    if missing:  # a margin of NaN, an infinite pixel, and a block with nothing known
        image[:, :3] = np.nan
        image[-1, -1] = np.inf
        image[:factor, factor : 2 * factor] = np.nan
    means = block_means(image, factor, budget)
    expected = np.full(means.shape, np.nan)
    known = np.where(np.isfinite(image), image.astype(np.float64), np.nan)
    for i in range(means.shape[0]):
        for j in range(means.shape[1]):
            block = known[i * factor : (i + 1) * factor, j * factor : (j + 1) * factor]
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a block of NaN only: its mean is NaN
                expected[i, j] = np.nanmean(block.reshape(-1, *shape[2:]), axis=0)
    np.testing.assert_allclose(means, expected, rtol=1e-12)
    if means.shape[1] > 1:
        assert np.isnan(means[0, 1]).all() == missing  # the block of NaN only

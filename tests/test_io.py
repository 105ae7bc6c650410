"""Writing whole paintings block by block (reading: test_reading.py)."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_xraysep.io import TiffWindow


def test_tiff_window_reads_and_writes_blocks_and_keeps_no_mapping(tmp_path, rng):
    image = rng.random((40, 30)).astype(np.float32)
    tifffile.imwrite(tmp_path / "x.tif", image)
    window = TiffWindow(tmp_path / "x.tif")
    assert window.shape == (40, 30) and window.dtype == np.float32
    np.testing.assert_array_equal(window[5:9, 3:20], image[5:9, 3:20])
    np.testing.assert_array_equal(np.asarray(window), image)
    with pytest.raises(OSError, match="reading only"):
        window[0, 0] = 1
    writable = TiffWindow(tmp_path / "x.tif", writable=True)
    writable[10:12, :] = -1
    assert (tifffile.imread(tmp_path / "x.tif")[10:12] == -1).all()
    maps = Path("/proc/self/maps")
    if maps.exists():  # Linux: every access unmapped the file again, so nothing of it stays resident
        assert str(tmp_path / "x.tif") not in maps.read_text()
    tifffile.imwrite(tmp_path / "z.tif", image, compression="zlib")
    with pytest.raises(ValueError):  # a compressed file cannot be mapped (io.open_image reads it)
        TiffWindow(tmp_path / "z.tif")


@pytest.mark.parametrize(("shape", "photometric", "pages"), [((20, 30, 3), "RGB", 1), ((20, 30, 4), "RGB", 1), ((20, 30), "MINISBLACK", 1), ((3, 20, 30), "MINISBLACK", 3)])
def test_write_tiff_says_how_the_samples_are_stored(tmp_path, rng, shape, photometric, pages):
    from napari_xraysep.io import read_image, write_tiff

    image = rng.random(shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # tifffile's warning that it will stop guessing
        path = write_tiff(tmp_path / "image.tif", image, {"note": "test"})
    with tifffile.TiffFile(path) as tiff:
        assert len(tiff.pages) == pages and tiff.pages[0].photometric.name == photometric
    if pages == 1:
        np.testing.assert_array_equal(read_image(path), image)


def test_the_napari_writer_keeps_a_grayscale_stack_of_three_grayscale(tmp_path, rng):
    from napari_xraysep.plugin.writer import write_image_tiff

    stack = rng.random((5, 8, 3)).astype(np.float32)  # a volume whose last axis happens to be 3 long
    gray, colour = str(tmp_path / "stack.tif"), str(tmp_path / "photo.tif")
    write_image_tiff(gray, stack, {"name": "stack", "rgb": False, "metadata": {}})
    write_image_tiff(colour, stack, {"name": "photo", "rgb": True, "metadata": {}})
    with tifffile.TiffFile(gray) as tiff:
        assert len(tiff.pages) == 5 and tiff.pages[0].photometric.name == "MINISBLACK"
        np.testing.assert_array_equal(tiff.asarray(), stack)
    with tifffile.TiffFile(colour) as tiff:
        assert len(tiff.pages) == 1 and tiff.pages[0].photometric.name == "RGB"


@pytest.mark.parametrize("shape", [(7, 5), (7, 5, 3)])
def test_write_png_reads_back_pixel_for_pixel_and_refuses_other_shapes(tmp_path, rng, shape):
    from PIL import Image

    from napari_xraysep.io import write_png

    image = rng.integers(0, 256, shape, dtype=np.uint8)
    path = write_png(tmp_path / "panel.png", image)
    with Image.open(path) as png:
        assert png.format == "PNG" and png.mode == ("L" if len(shape) == 2 else "RGB")
        np.testing.assert_array_equal(np.asarray(png), image)
    assert [p.name for p in tmp_path.iterdir()] == ["panel.png"]  # no temporary left behind
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, 3\)"):
        write_png(tmp_path / "rgba.png", np.zeros((7, 5, 4), np.uint8))


def test_a_montage_with_titles_writes_each_over_its_panel():
    """Each panel gets a white band above it with its title in dark text; the panels keep their pixels."""
    from napari_xraysep.io import montage
    from napari_xraysep.io.write import TITLE_BAND

    panels = [np.full((30, 90), value, np.uint8) for value in (50, 100, 150)]
    sheet = montage(panels, columns=2, gap=4, titles=["first", "second", "third"])
    assert sheet.shape == (2 * (TITLE_BAND + 30) + 4, 2 * 90 + 4, 3)
    for index, value in enumerate((50, 100, 150)):
        row, column = divmod(index, 2)
        top, left = row * (TITLE_BAND + 30 + 4), column * (90 + 4)
        band = sheet[top : top + TITLE_BAND, left : left + 90]
        assert (band < 128).any() and (band == 255).mean() > 0.7  # dark text on white
        assert (sheet[top + TITLE_BAND : top + TITLE_BAND + 30, left : left + 90] == value).all()
    assert (sheet[TITLE_BAND + 30 + 4 :, 94:] == 255).all()  # the empty cell stays white: no title, no panel
    untitled = montage(panels, columns=2, gap=4)
    assert untitled.shape == (2 * 30 + 4, 2 * 90 + 4, 3)
    with pytest.raises(ValueError, match="one title per panel"):
        montage(panels, columns=2, titles=["only one"])

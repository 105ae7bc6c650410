"""Synthetic paintings with ground truth, and how a separation is scored against it:
:mod:`.synthetic` (painted cases, the bundled sample), :mod:`.synthetic_photos` (photographs as the
designs), :mod:`.synthetic_real` (museum-like files: uneven exposure, stretcher bars, backdrops; drawn on
:mod:`.real_frame`'s frame) and
:mod:`.evaluation` (PSNR, SSIM, the least-squares baseline)."""

"""spwconsistency core: relative flux calibration between spectral windows (seed 000 Sect. 3.4).

Pure numpy/scipy (no casatools):

- :mod:`.inputs`: the per-spw fits of one relcal_fit run, checked
- :mod:`.normalize`: normalized MCFs, MCF_ijk / MCF_ij, and their errors (Fig. 3)
- :mod:`.decompose`: sigma_total, sigma_fit (Eq. 4) and sigma_spw (Eq. 5) (Fig. 4)
- :mod:`.powerlaw`: C nu^alpha per epoch, curve_fit and residual bootstrap
- :mod:`.montecarlo`: alpha expected from fit noise and sigma_spw alone (Fig. 5)
- :mod:`.pipeline_qa`: hifa_gfluxscale spectral consistency score (seed 004) and a finer one
- :mod:`.spindex`: in-band spectral index uncertainty (Sect. 4.1, Table 5)
- :mod:`.results`, :mod:`.plot`: the result, its record, tables and figures
"""

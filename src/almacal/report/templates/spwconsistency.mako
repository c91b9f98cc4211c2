<%inherit file="body.mako"/>
<%block name="intro">
<p class="explain">Relative flux calibration between spectral windows (seed 000
Sect. 3.4): the normalized MCFs MCF_ijk / MCF_ij, their scatter split into fit noise
(sigma_fit, Eq. 4) and spw calibration error (sigma_spw, Eq. 5), a power law per epoch
and a Monte Carlo of the index alpha that noise alone gives.</p>
</%block>

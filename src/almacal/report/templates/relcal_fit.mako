<%inherit file="body.mako"/>
<%block name="intro">
<p class="explain">Relative flux calibration between epochs (Francis et al., seed 000
Sect. 3.1): a point-source flux F_ij per calibrator j and epoch i, the mean correction
factors MCF_ij = mean_l(F_lj) / F_ij (Eq. 1, errors Eq. 2) and each epoch's
rFCF_i = mean_j MCF_ij (Eq. 3). Multiplying epoch i's amplitudes by rFCF_i
(relcal_apply) puts every epoch on the mean flux scale.</p>
</%block>

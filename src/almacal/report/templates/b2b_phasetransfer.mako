<%inherit file="body.mako"/>
<%block name="intro">
<p class="explain">Band-to-band phase referencing (Maud, Asaki et al., seed 003):
the differential-gain band offset solved on the DGC source, the low-frequency phases
scaled by nu_high/nu_low and transferred to the high-frequency targets, and the
residual phase and coherence this leaves.</p>
</%block>

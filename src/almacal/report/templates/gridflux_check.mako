<%inherit file="body.mako"/>
<%block name="intro">
<p class="explain">The grid calibrator's flux recomputed from the ALMA calibrator
catalog as it is now, compared with the pipeline's flux.csv (seed 000 Sect. 3.2, 4.2);
factor = catalog / pipeline, which relcal_apply(factorfile=...) applies.</p>
</%block>

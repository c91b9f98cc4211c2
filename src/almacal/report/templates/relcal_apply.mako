<%inherit file="body.mako"/>
<%block name="intro">
<p class="explain">Amplitudes of each MS multiplied by its factor f, weights by 1/f²
(seed 000 App. E: gencal caltype='amp' with parameter 1/sqrt(f), then applycal). The
MS HISTORY records each factor; a second rescaling of the same data is refused unless
force=True.</p>
</%block>

<%doc>The T2-4M detail page of an almacal stage: the pipeline's page frame (QA banner,
notifications, inputs, timing, CASA log) around almacal.report's body of each result.</%doc>
<%inherit file="t2-4m_details-base.mako"/>
<%block name="title">${almacal_stage}: ${almacal_description}</%block>

${almacal_body | n}

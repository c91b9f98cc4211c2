"""relcal_fit implementation. Parameters are defined in xml/relcal_fit.xml."""


def relcal_fit(vis, field, spw, datacolumn, uvrange, perspw, groupby, exclude, outfile, overwrite):
    """Relative flux calibration from stable calibrators (IN PROGRESS)."""
    raise NotImplementedError

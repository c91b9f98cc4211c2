"""relcal_apply implementation. Parameters are defined in xml/relcal_apply.xml."""


def relcal_apply(
    vis, factor, factorfile, mode, outputvis, datacolumn, caltable, force, dryrun, overwrite
):
    """Rescale visibility amplitudes per epoch (IN PROGRESS)."""
    raise NotImplementedError

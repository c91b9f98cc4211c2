"""relcal_fit's pure core (no casatools; the readers are arguments).

Data flow, task arguments to record:

    params.RelcalFitParams.from_task_args   checks, MsInfo and channel selection per MS
    run.measure                              [selfcal.selfcal_ms per MS], then per MS
      plan.ms_plan -> accumulate.accumulate    one chunked pass -> MsSums (small, picklable)
      accumulate.sum_epochs                    MsSums per epoch
      cuts.CommonUvRange / cuts.find_lines     decided from all epochs
    run.solve                                pure: cuts.cut_sums, model fits (uvmodel,
                                             posfit), results.RelcalResult (Eq. 1-3, choice)
    results.write_outputs, to_record()       ECSV/JSON/PNG; the plain dict CASA returns

task.RelcalFitTask wraps these as the steps of almacal.casatask.skeleton.run_task;
pointflux.field_point_flux is the same per-MS unit for one field (gridflux_check).
"""

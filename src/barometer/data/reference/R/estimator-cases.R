## estimator-cases.R: cases.R (the shared script) with family = "quasipoisson" mapped to
## quasipoisson() too, and svyglm's family passed by value (svyglm on a replicate design
## looks the family up in its caller); everything else as cases.R. Run: Rscript estimator-cases.R specs.json out.json
suppressMessages(library(survey)); suppressMessages(library(jsonlite))
options(survey.lonely.psu = "fail")
load_data <- function(f) {
  d <- read.csv(f, stringsAsFactors = FALSE)
  names(d) <- gsub("\\.", "_", names(d))   # R's dots -> underscores (CSV header uses them too after export? no: exported with dots)
  d
}
mk_design <- function(d, s) {
  if (!is.null(s$repweights)) return(mk_repdesign(d, s))
  ids <- if (is.null(s$ids)) ~1 else as.formula(paste("~", paste(s$ids, collapse = "+")))
  strata <- if (is.null(s$strata)) NULL else as.formula(paste("~", s$strata))
  weights <- if (is.null(s$weights)) NULL else as.formula(paste("~", s$weights))
  probs <- if (is.null(s$probs)) NULL else as.formula(paste("~", s$probs))
  fpc <- if (is.null(s$fpc)) NULL else as.formula(paste("~", paste(s$fpc, collapse = "+")))
  pps <- if (is.null(s$pps)) FALSE else s$pps      # "brewer" | "overton": fpc holds the inclusion probabilities
  svydesign(ids = ids, strata = strata, weights = weights, probs = probs, fpc = fpc, data = d,
            nest = isTRUE(s$nest), pps = pps)
}
## design.repweights: replicate weights carried by the data (combined: full weight x factor)
mk_repdesign <- function(d, s) {
  r <- s$repweights
  cols <- if (!is.null(r$columns)) unlist(r$columns) else names(d)[startsWith(names(d), r$prefix)]
  svrepdesign(data = d, repweights = d[, cols, drop = FALSE], weights = as.formula(paste("~", s$weights)),
              type = r$type, scale = r$scale, rscales = if (is.null(r$rscales)) NULL else unlist(r$rscales),
              rho = r$rho, mse = isTRUE(r$mse), combined.weights = TRUE)
}
pop_vector <- function(des, cal) {
  # build the model-matrix population totals vector from a neutral margin spec
  terms <- c(names(cal$categorical), names(cal$numeric))
  f <- as.formula(paste("~", paste(terms, collapse = "+")))
  mm <- model.matrix(f, model.frame(f, des$variables))
  tot <- setNames(numeric(ncol(mm)), colnames(mm))
  tot["(Intercept)"] <- cal$total
  for (v in names(cal$categorical)) for (lev in names(cal$categorical[[v]])) {
    nm <- paste0(v, lev); if (nm %in% names(tot)) tot[nm] <- cal$categorical[[v]][[lev]]
  }
  for (v in names(cal$numeric)) tot[v] <- cal$numeric[[v]]
  list(formula = f, totals = tot)
}
apply_cal <- function(des, cal) {
  if (is.null(cal)) return(des)
  if (cal$method == "poststratify") {
    v <- names(cal$categorical)[1]
    pop <- data.frame(names(cal$categorical[[v]]), unlist(cal$categorical[[v]])); names(pop) <- c(v, "Freq")
    return(postStratify(des, as.formula(paste("~", v)), pop))
  }
  pv <- pop_vector(des, cal)
  bounds <- if (is.null(cal$bounds)) c(-Inf, Inf) else unlist(cal$bounds)
  # "truncated" = linear calibration with bounds on the g-weights (sampling::calib's "truncated")
  calfun <- switch(cal$method, linear = "linear", raking = "raking", logit = "logit", truncated = "linear")
  if (inherits(des, "svyrep.design") && !inherits(des$repweights, "repweights_compressed")) {
    # repweights read from the data: calibrate.svyrep.design's default compress = NA fails on them
    return(calibrate(des, pv$formula, pv$totals, calfun = calfun, bounds = bounds, maxit = 200, epsilon = 1e-10, compress = FALSE))
  }
  calibrate(des, pv$formula, pv$totals, calfun = calfun, bounds = bounds, maxit = 200, epsilon = 1e-10)
}
## rows whose values of the columns vars equal vals (as text); NA never matches
match_rows <- function(des, vars, vals) {
  ok <- rep(TRUE, nrow(des$variables))
  for (k in seq_along(vars)) {
    v <- as.character(des$variables[[vars[k]]])
    ok <- ok & !is.na(v) & v == as.character(vals[[k]])
  }
  ok
}
## combinations of the by-columns present (with non-zero weight), sorted; key "a|b"
domains <- function(des, vars) {
  inw <- weights(des, "sampling") != 0
  combos <- unique(des$variables[inw, vars, drop = FALSE])
  combos <- combos[stats::complete.cases(combos), , drop = FALSE]
  combos <- combos[do.call(order, unname(as.list(combos))), , drop = FALSE]
  lapply(seq_len(nrow(combos)), function(i) as.character(unlist(combos[i, , drop = TRUE])))
}
## proportion / total of every level of y (estimator.level = null): svymean / svytotal of factor(y)
all_levels <- function(des, e, ci, lvl, df) {
  f <- ~.lev
  r <- if (e$stat == "total") svytotal(f, des, na.rm = TRUE, deff = TRUE) else svymean(f, des, na.rm = TRUE, deff = TRUE)
  cf <- confint(r, level = lvl, df = df)
  levs <- sub("^\\.lev", "", names(coef(r)))
  out <- list()
  for (i in seq_along(levs)) out[[levs[i]]] <- list(estimate = as.numeric(coef(r)[i]), se = as.numeric(SE(r)[i]),
    ci_low = as.numeric(cf[i, 1]), ci_high = as.numeric(cf[i, 2]), deff = as.numeric(deff(r)[i]))
  out
}
## estimator.stat = "crosstab": svytable + svychisq (Rao-Scott)
crosstab <- function(des, e) {
  f <- as.formula(paste0("~`", e$y, "` + `", e$x, "`"))
  test <- if (is.null(e$test)) "F" else e$test
  rF <- svychisq(f, des, statistic = "F")
  if (test == "F") {
    out <- list(statistic = unname(rF$statistic), ndf = unname(rF$parameter["ndf"]),
                ddf = unname(rF$parameter["ddf"]), p_value = unname(rF$p.value))
  } else {
    rC <- svychisq(f, des, statistic = "Chisq")
    df <- unname(rC$parameter["df"])
    # first-order Rao-Scott: X^2 / mean(delta) = F * df; R prints the unadjusted X^2 but refers X^2/mean(delta) to chisq(df)
    out <- list(statistic = unname(rF$statistic) * df, df = df, p_value = unname(rC$p.value))
  }
  tab <- svytable(f, des)
  cells <- list()
  for (i in rownames(tab)) for (j in colnames(tab)) if (tab[i, j] > 0) cells[[paste(i, j, sep = "|")]] <- as.numeric(tab[i, j])
  out$cells <- cells
  out
}
## estimator.stat = "contrast": svyby(covmat = TRUE) then svycontrast
contrast <- function(des, e) {
  vars <- unlist(e$by)
  FUN <- if (e$of == "total") svytotal else svymean
  if (e$of == "proportion") des <- update(des, .y = as.numeric(as.character(des$variables[[e$y]]) == e$level))
  f <- if (e$of == "proportion") ~.y else as.formula(paste0("~`", e$y, "`"))
  b <- svyby(f, as.formula(paste("~", paste(sprintf("`%s`", vars), collapse = "+"))), des, FUN, covmat = TRUE, na.rm = TRUE)
  keys <- apply(as.data.frame(b)[, vars, drop = FALSE], 1, function(r) paste(trimws(as.character(r)), collapse = "|"))
  w <- numeric(length(keys))
  for (k in names(e$coefficients)) {
    if (!(k %in% keys)) stop("contrast: no domain ", k)
    w[keys == k] <- e$coefficients[[k]]
  }
  r <- svycontrast(b, w)
  list(estimate = as.numeric(coef(r)), se = as.numeric(SE(r)))
}
one <- function(est, des, e, ci) {
  lvl <- if (is.null(ci$level)) 0.95 else ci$level
  df <- if (is.null(ci$df) || ci$df == "inf") Inf else if (ci$df == "design") degf(des) else as.numeric(ci$df)
  if (e$stat %in% c("proportion", "total") && "level" %in% names(e) && is.null(e$level)) return(all_levels(des, e, ci, lvl, df))
  if (e$stat == "var") {
    r <- svyvar(as.formula(paste0("~`", e$y, "`")), des, na.rm = TRUE)
    return(list(estimate = as.numeric(coef(r))[1], se = as.numeric(SE(r))[1]))
  }
  if (e$stat == "crosstab") return(crosstab(des, e))
  if (e$stat == "proportion") {
    f <- as.formula(paste0("~I(", e$y, " == '", e$level, "')"))
    m <- if (is.null(ci$method)) "logit" else ci$method
    if (m == "wald") {
      r <- svymean(f, des, na.rm = TRUE, deff = TRUE)
      cf <- confint(r, level = lvl, df = df)
      out <- list(estimate = as.numeric(coef(r)[2]), se = as.numeric(SE(r)[2]), ci_low = as.numeric(cf[2,1]), ci_high = as.numeric(cf[2,2]), deff = as.numeric(deff(r)[2]))
    } else {
      r <- svyciprop(f, des, method = m, level = lvl, df = df)
      ci2 <- attr(r, "ci")
      out <- list(estimate = as.numeric(coef(r)), se = as.numeric(SE(r)), ci_low = as.numeric(ci2[1]), ci_high = as.numeric(ci2[2]))
    }
    return(out)
  }
  if (e$stat == "glm") {
    d <- des$variables
    yv <- if (is.null(e$level)) d[[e$y]] else as.numeric(as.character(d[[e$y]]) == e$level)
    des <- update(des, .y = yv)
    f <- as.formula(paste(".y ~", paste(sprintf("`%s`", e$x), collapse = " + ")))
    fam <- if (identical(e$family, "binomial")) quasibinomial() else gaussian()
    if (identical(e$family, "poisson")) fam <- quasipoisson()   # log link; SEs as with poisson()
    if (identical(e$family, "quasipoisson")) fam <- quasipoisson()
    m <- eval(bquote(svyglm(.(f), des, family = .(fam))))   # a replicate design evaluates family= in its caller
    cf <- coef(m); se <- SE(m); nm <- gsub("`", "", names(cf))
    out <- list(); for (i in seq_along(cf)) out[[nm[i]]] <- list(estimate = as.numeric(cf[i]), se = as.numeric(se[i]))
    return(out)
  }
  if (e$stat == "quantile") {
    f <- as.formula(paste("~", e$y))
    r <- svyquantile(f, des, quantiles = e$q, ci = TRUE, qrule = e$qrule, interval.type = "mean", alpha = 1 - lvl, df = df, na.rm = TRUE)
    cf <- r[[1]]
    return(list(estimate = as.numeric(cf[1,1]), ci_low = as.numeric(cf[1,2]), ci_high = as.numeric(cf[1,3]), se = as.numeric(cf[1,4])))
  }
  f <- as.formula(paste("~", e$y))
  r <- switch(e$stat,
    mean = svymean(f, des, na.rm = TRUE, deff = TRUE),
    total = svytotal(f, des, na.rm = TRUE, deff = TRUE),
    ratio = svyratio(f, as.formula(paste("~", e$x)), des, na.rm = TRUE))
  cf <- confint(r, level = lvl, df = df)
  out <- list(estimate = as.numeric(coef(r))[1], se = as.numeric(SE(r))[1], ci_low = as.numeric(cf[1,1]), ci_high = as.numeric(cf[1,2]))
  if (e$stat != "ratio") out$deff <- as.numeric(deff(r))[1]
  out
}
## drop numbers R returns as NaN/NA/Inf (e.g. a Woodruff limit beyond the data): not compared
finite_only <- function(x) {
  if (is.list(x)) { x <- lapply(x, finite_only); return(x[!vapply(x, is.null, TRUE)]) }
  if (is.numeric(x) && length(x) == 1 && !is.finite(x)) return(NULL)
  x
}
run_case <- function(cs) {
  if (!is.null(cs$source)) return(cs$expected)   # made by another script (see `source`): kept as is
  old <- options(survey.lonely.psu = if (is.null(cs$design$lonely_psu)) "fail" else cs$design$lonely_psu)
  on.exit(options(old))
  d <- read.csv(file.path("data", cs$data), stringsAsFactors = FALSE, check.names = FALSE)
  des <- mk_design(d, cs$design)
  if (!is.null(cs$replicate)) {
    des <- as.svrepdesign(des, type = cs$replicate$type, fay.rho = if (is.null(cs$replicate$fay_rho)) 0 else cs$replicate$fay_rho, mse = isTRUE(cs$replicate$mse))
  }
  des <- apply_cal(des, cs$calibration)
  e <- cs$estimator
  if (e$stat %in% c("proportion", "total") && "level" %in% names(e) && is.null(e$level)) {
    levs <- sort(unique(as.character(des$variables[[e$y]])))
    des <- update(des, .lev = factor(as.character(des$variables[[e$y]]), levels = levs))
  }
  keep <- !is.na(des$variables[[e$y]])
  if (!is.null(e$x) && e$stat == "glm") for (v in unlist(e$x)) keep <- keep & !is.na(des$variables[[v]])
  if (!is.null(e$x) && e$stat != "glm") keep <- keep & !is.na(des$variables[[e$x]])
  if (!all(keep)) des <- des[keep, ]
  if (!is.null(e$domain)) des <- des[match_rows(des, e$domain$column, list(e$domain$value)), ]
  if (e$stat == "contrast") return(contrast(des, e))
  if (is.list(e$by)) {   # several by-columns: keys "a|b" in the listed order
    vars <- unlist(e$by)
    res <- list()
    for (vals in domains(des, vars)) {
      res[[paste(vals, collapse = "|")]] <- one(NULL, des[match_rows(des, vars, vals), ], e, cs$ci)
    }
    return(res)
  }
  if (!is.null(e$by)) {
    levs <- sort(unique(des$variables[[e$by]]))
    res <- list()
    for (l in levs) {
      sub <- subset(des, des$variables[[e$by]] == l)
      res[[as.character(l)]] <- one(NULL, sub, e, cs$ci)
    }
    return(res)
  }
  one(NULL, des, e, cs$ci)
}
args <- commandArgs(TRUE)
cases <- fromJSON(args[1], simplifyVector = FALSE)
for (i in seq_along(cases)) {
  cases[[i]]$expected <- finite_only(run_case(cases[[i]]))
}
writeLines(toJSON(cases, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), args[2])

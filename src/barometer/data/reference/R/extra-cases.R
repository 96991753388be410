## tests/reference/extra/cases.R -- computes `expected` for the extra reference cases.
##   Rscript cases.R specs.json cases.json     (run from tests/reference/extra/)
##
## Copied from shared/reference/r-survey/cases.R. Every field keeps exactly the meaning
## it has there; the R calls that compute the numbers are unchanged. What differs, and why:
##  * The extra cases only use fields the shared script already maps to R, with values the
##    shared cases did not exercise: ci.level 0.90/0.99, numeric ci.df, design.fpc with
##    two stages, design.nest, quantile q/qrule other than the median/hf7, ci.method
##    "xlogit" (passed straight to svyciprop, like "logit"/"beta"), replicate types
##    JK1/JKn/BRR/Fay with fay_rho and mse, calibration bounds and several margins.
##    None needed new code. ("wilson" is not a svyciprop method in survey 4.1.1, so no
##    case uses it.)
##  * one(), glm branch: `svyglm(f, des, family = fam)` became
##    `eval(bquote(svyglm(f, des, family = .(fam))))`. Same call, same family; the family
##    object is inlined because svyglm.svyrep.design re-evaluates its own call inside the
##    data (`with(data, eval(g))`), where the local `fam` does not exist ("object 'fam' not
##    found" for glm on replicate designs). Survey-design2 fits are unaffected.
##  * run_all() (end of file): each case runs inside a handler that prints the case id
##    with any R warning (e.g. "Finite population correction dropped in conversion") and
##    stops with the id on an error; and check_expected() refuses to write a case whose
##    `expected` is empty or holds a missing / non-finite number, so a NaN can never
##    reach cases.json. These only guard the output; they change no number.
suppressMessages(library(survey)); suppressMessages(library(jsonlite))
options(survey.lonely.psu = "fail")
load_data <- function(f) {
  d <- read.csv(f, stringsAsFactors = FALSE)
  names(d) <- gsub("\\.", "_", names(d))   # R's dots -> underscores (CSV header uses them too after export? no: exported with dots)
  d
}
mk_design <- function(d, s) {
  ids <- if (is.null(s$ids)) ~1 else as.formula(paste("~", paste(s$ids, collapse = "+")))
  strata <- if (is.null(s$strata)) NULL else as.formula(paste("~", s$strata))
  weights <- if (is.null(s$weights)) NULL else as.formula(paste("~", s$weights))
  fpc <- if (is.null(s$fpc)) NULL else as.formula(paste("~", paste(s$fpc, collapse = "+")))
  svydesign(ids = ids, strata = strata, weights = weights, fpc = fpc, data = d,
            nest = isTRUE(s$nest))
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
  calfun <- switch(cal$method, linear = "linear", raking = "raking", logit = "logit")
  calibrate(des, pv$formula, pv$totals, calfun = calfun, bounds = bounds, maxit = 200, epsilon = 1e-10)
}
one <- function(est, des, e, ci) {
  lvl <- if (is.null(ci$level)) 0.95 else ci$level
  df <- if (is.null(ci$df) || ci$df == "inf") Inf else if (ci$df == "design") degf(des) else as.numeric(ci$df)
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
    m <- eval(bquote(svyglm(f, des, family = .(fam))))   # family inlined: svyglm.svyrep.design re-evaluates its call where `fam` is not visible
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
run_case <- function(cs) {
  d <- read.csv(file.path("data", cs$data), stringsAsFactors = FALSE, check.names = FALSE)
  des <- mk_design(d, cs$design)
  if (!is.null(cs$replicate)) {
    des <- as.svrepdesign(des, type = cs$replicate$type, fay.rho = if (is.null(cs$replicate$fay_rho)) 0 else cs$replicate$fay_rho, mse = isTRUE(cs$replicate$mse))
  }
  des <- apply_cal(des, cs$calibration)
  e <- cs$estimator
  keep <- !is.na(des$variables[[e$y]])
  if (!is.null(e$x) && e$stat == "glm") for (v in unlist(e$x)) keep <- keep & !is.na(des$variables[[v]])
  if (!is.null(e$x) && e$stat != "glm") keep <- keep & !is.na(des$variables[[e$x]])
  if (!all(keep)) des <- des[keep, ]
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
check_expected <- function(x, id) {
  v <- unlist(x)
  if (length(v) == 0) stop(id, ": empty expected")
  if (!is.numeric(v) || any(!is.finite(v))) stop(id, ": missing or non-finite number in expected")
  invisible(x)
}
run_all <- function(cases) {
  for (i in seq_along(cases)) {
    id <- cases[[i]]$id
    res <- withCallingHandlers(
      tryCatch(run_case(cases[[i]]),
               error = function(err) stop(id, ": ", conditionMessage(err), call. = FALSE)),
      warning = function(w) {
        message("warning in ", id, ": ", conditionMessage(w)); invokeRestart("muffleWarning")
      })
    cases[[i]]$expected <- check_expected(res, id)
  }
  cases
}
args <- commandArgs(TRUE)
cases <- fromJSON(args[1], simplifyVector = FALSE)
cases <- run_all(cases)
writeLines(toJSON(cases, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), args[2])

## Writes R/extra-specs.json (run from the reference folder): the extra reference cases without `expected`.
##   Rscript make_specs.R      (run from tests/reference/extra/)
## Population totals used by calibration cases are computed here from data/apipop.csv
## (the full population of 6,194 schools), so they are real.
suppressMessages(library(jsonlite))
pop <- read.csv("data/apipop.csv", stringsAsFactors = FALSE, check.names = FALSE)
N <- nrow(pop)
cnt <- function(v) { t <- table(pop[[v]]); setNames(as.list(as.numeric(t)), names(t)) }
tot <- function(v) sum(pop[[v]])
stopifnot(!anyNA(pop$api99), !anyNA(pop$meals), !anyNA(pop$ell))

## ---- designs ------------------------------------------------------------------------
des <- function(data, ids = NULL, strata = NULL, fpc = NULL, nest = FALSE, weights = "pw") {
  d <- list(ids = if (is.null(ids)) NULL else as.list(ids), strata = strata,
            weights = weights, fpc = if (is.null(fpc)) NULL else as.list(fpc))
  if (nest) d$nest <- TRUE
  list(data = data, design = d)
}
SRS      <- des("apisrs.csv", fpc = "fpc")
STRAT    <- des("apistrat.csv", strata = "stype", fpc = "fpc")
STRAT0   <- des("apistrat.csv", strata = "stype")
CLUS1    <- des("apiclus1.csv", ids = "dnum", fpc = "fpc")
CLUS1_0  <- des("apiclus1.csv", ids = "dnum")
CLUS2    <- des("apiclus2.csv", ids = c("dnum", "snum"), fpc = c("fpc1", "fpc2"))
CLUS2_0  <- des("apiclus2.csv", ids = c("dnum", "snum"))
CLUS2_1  <- des("apiclus2.csv", ids = "dnum")
NEST     <- des("apistrat.csv", ids = "dnum", strata = "stype", nest = TRUE)
BRR2ST   <- des("apibrr.csv", ids = c("dnum", "snum"), strata = "pstrat", fpc = c("fpc1", "fpc2"), nest = TRUE)
BRRPSU   <- des("apibrr.csv", ids = "dnum", strata = "pstrat")

## ---- pieces -------------------------------------------------------------------------
rep_ <- function(type, mse = FALSE, rho = NULL) {
  r <- list(type = type); if (!is.null(rho)) r$fay_rho <- rho; if (mse) r$mse <- TRUE; r
}
cal <- function(method, categorical = NULL, numeric = NULL, bounds = NULL) {
  c0 <- list(method = method)
  if (!is.null(categorical)) c0$categorical <- setNames(lapply(categorical, cnt), categorical)
  if (!is.null(numeric)) c0$numeric <- setNames(lapply(numeric, tot), numeric)
  c0$total <- N
  if (!is.null(bounds)) c0$bounds <- as.list(bounds)
  c0
}
est <- function(stat, y, x = NULL, level = NULL, by = NULL, q = NULL, qrule = NULL, family = NULL) {
  e <- list(stat = stat)
  if (!is.null(family)) e$family <- family
  e$y <- y
  if (!is.null(level)) e$level <- level
  if (!is.null(x)) e$x <- if (stat == "glm") as.list(x) else x
  if (!is.null(q)) e$q <- q
  if (!is.null(qrule)) e$qrule <- qrule
  if (!is.null(by)) e$by <- by
  e
}
ci <- function(method = "wald", level = 0.95, df = "inf") list(method = method, level = level, df = df)

W <- ci()
cases <- list()
add <- function(id, D, e, ci = W, replicate = NULL, calibration = NULL) {
  stopifnot(startsWith(id, "x_"), !id %in% sapply(cases, `[[`, "id"))
  cases[[length(cases) + 1]] <<- list(id = id, data = D$data, design = D$design,
    replicate = replicate, calibration = calibration, estimator = e, ci = ci)
}
Q <- function(level = 0.95, df = "inf") ci("woodruff", level, df)

## ---- 1. two-stage cluster sample (apiclus2), fpc at both stages; ultimate cluster ---
add("x_clus2_mean_api00",            CLUS2, est("mean", "api00"))
add("x_clus2_total_apistu",          CLUS2, est("total", "api.stu"))
add("x_clus2_ratio_api00_api99",     CLUS2, est("ratio", "api00", x = "api99"))
add("x_clus2_prop_schwide_wald",     CLUS2, est("proportion", "sch.wide", level = "Yes"))
add("x_clus2_prop_schwide_logit",    CLUS2, est("proportion", "sch.wide", level = "Yes"), ci("logit", df = "design"))
add("x_clus2_prop_schwide_beta",     CLUS2, est("proportion", "sch.wide", level = "Yes"), ci("beta", df = "design"))
add("x_clus2_mean_api00_by_stype",   CLUS2, est("mean", "api00", by = "stype"))
add("x_clus2_median_api00_math",     CLUS2, est("quantile", "api00", q = 0.5, qrule = "math"), Q())
add("x_clus2nofpc_mean_api00",       CLUS2_0, est("mean", "api00"))
add("x_clus2nofpc_total_apistu",     CLUS2_0, est("total", "api.stu"))
add("x_clus2nofpc_prop_awards_logit", CLUS2_0, est("proportion", "awards", level = "Yes"), ci("logit", df = "design"))
add("x_clus2psu_mean_api00",         CLUS2_1, est("mean", "api00"))

## ---- 2. stratified cluster designs with nest = TRUE --------------------------------
add("x_nest_mean_api00",             NEST, est("mean", "api00"))
add("x_nest_total_apistu",           NEST, est("total", "api.stu"), ci(df = "design"))
add("x_nest_prop_awards_logit",      NEST, est("proportion", "awards", level = "Yes"), ci("logit", df = "design"))
add("x_nest_mean_api00_by_schwide",  NEST, est("mean", "api00", by = "sch.wide"))
add("x_strat2st_mean_api00",         BRR2ST, est("mean", "api00"))
add("x_strat2st_total_apistu",       BRR2ST, est("total", "api.stu"), ci(df = "design"))
add("x_strat2st_prop_awards_beta",   BRR2ST, est("proportion", "awards", level = "Yes"), ci("beta", df = "design"))

## ---- 3. interval variants: level, numeric df, design df, xlogit ----------------------
add("x_srs_mean_api00_l90",          SRS, est("mean", "api00"), ci(level = 0.90))
add("x_strat_total_enroll_l99_df30", STRAT, est("total", "enroll"), ci(level = 0.99, df = 30))
add("x_clus1_mean_api00_l90_dfdes",  CLUS1, est("mean", "api00"), ci(level = 0.90, df = "design"))
add("x_clus2_total_apistu_l99_dfdes", CLUS2, est("total", "api.stu"), ci(level = 0.99, df = "design"))
add("x_clus1_prop_schwide_wald_l99_df30", CLUS1, est("proportion", "sch.wide", level = "Yes"), ci(level = 0.99, df = 30))
add("x_srs_prop_awards_logit_l90",   SRS, est("proportion", "awards", level = "Yes"), ci("logit", level = 0.90, df = "inf"))
add("x_strat_prop_awards_logit_df30", STRAT, est("proportion", "awards", level = "Yes"), ci("logit", df = 30))
add("x_strat_prop_schwide_beta_l99", STRAT, est("proportion", "sch.wide", level = "Yes"), ci("beta", level = 0.99, df = "design"))
add("x_clus1_prop_both_beta_l90",    CLUS1, est("proportion", "both", level = "Yes"), ci("beta", level = 0.90, df = "design"))
add("x_clus1_prop_awards_xlogit",    CLUS1, est("proportion", "awards", level = "Yes"), ci("xlogit", df = "design"))
add("x_clus2_prop_awards_xlogit_l90_df30", CLUS2, est("proportion", "awards", level = "Yes"), ci("xlogit", level = 0.90, df = 30))
add("x_srs_prop_stypeH_xlogit_l99",  SRS, est("proportion", "stype", level = "H"), ci("xlogit", level = 0.99, df = "inf"))

## ---- 4. quantiles: q x qrule on four designs, domains, levels -------------------------
add("x_srs_q10_api00_math",          SRS, est("quantile", "api00", q = 0.1, qrule = "math"), Q())
add("x_srs_q25_api00_hf7",           SRS, est("quantile", "api00", q = 0.25, qrule = "hf7"), Q())
add("x_srs_q90_enroll_math",         SRS, est("quantile", "enroll", q = 0.9, qrule = "math"), Q())
add("x_strat_q25_api00_math",        STRAT, est("quantile", "api00", q = 0.25, qrule = "math"), Q())
add("x_strat_q75_api00_hf7",         STRAT, est("quantile", "api00", q = 0.75, qrule = "hf7"), Q())
add("x_strat_q90_enroll_hf7_l90_dfdes", STRAT, est("quantile", "enroll", q = 0.9, qrule = "hf7"), Q(0.90, "design"))
add("x_clus1_q50_api00_math",        CLUS1, est("quantile", "api00", q = 0.5, qrule = "math"), Q())
add("x_clus1_q10_api00_hf7",         CLUS1, est("quantile", "api00", q = 0.1, qrule = "hf7"), Q())
add("x_clus1_q75_enroll_math_dfdes", CLUS1, est("quantile", "enroll", q = 0.75, qrule = "math"), Q(0.95, "design"))
add("x_clus2_q25_api00_hf7",         CLUS2, est("quantile", "api00", q = 0.25, qrule = "hf7"), Q())
add("x_clus2_q90_api00_math",        CLUS2, est("quantile", "api00", q = 0.9, qrule = "math"), Q())
add("x_clus2_q50_meals_hf7",         CLUS2, est("quantile", "meals", q = 0.5, qrule = "hf7"), Q())
add("x_strat_q50_api00_hf7_by_awards", STRAT, est("quantile", "api00", q = 0.5, qrule = "hf7", by = "awards"), Q())
add("x_clus1_q50_api00_math_by_stype", CLUS1, est("quantile", "api00", q = 0.5, qrule = "math", by = "stype"), Q())

## ---- 5. domains ----------------------------------------------------------------------
add("x_strat_total_enroll_by_stype", STRAT, est("total", "enroll", by = "stype"))
add("x_strat_mean_api00_by_awards",  STRAT, est("mean", "api00", by = "awards"))
add("x_strat_mean_api00_by_schwide_dfdes", STRAT, est("mean", "api00", by = "sch.wide"), ci(df = "design"))
add("x_clus1_ratio_apistu_enroll_by_stype", CLUS1, est("ratio", "api.stu", x = "enroll", by = "stype"))
add("x_clus1_mean_api00_by_cname",   CLUS1, est("mean", "api00", by = "cname"))
add("x_strat2st_mean_api00_by_pstrat", BRR2ST, est("mean", "api00", by = "pstrat"))
add("x_clus2_prop_awards_by_stype",  CLUS2, est("proportion", "awards", level = "Yes", by = "stype"))
add("x_clus2_total_apistu_by_schwide", CLUS2, est("total", "api.stu", by = "sch.wide"))
add("x_srs_prop_schwide_logit_by_stype", SRS, est("proportion", "sch.wide", level = "Yes", by = "stype"), ci("logit", df = "design"))

## ---- 6. missing values (NA rows are out of domain) -----------------------------------
add("x_strat_mean_acsk3",            STRAT, est("mean", "acs.k3"))
add("x_strat_mean_acs46_by_stype",   STRAT, est("mean", "acs.46", by = "stype"))
add("x_strat_ratio_acsk3_acs46",     STRAT, est("ratio", "acs.k3", x = "acs.46"))
add("x_srs_total_avged",             SRS, est("total", "avg.ed"))
add("x_clus1_mean_avged_by_stype",   CLUS1, est("mean", "avg.ed", by = "stype"))
add("x_clus1_q50_avged_math",        CLUS1, est("quantile", "avg.ed", q = 0.5, qrule = "math"), Q())
add("x_clus2_total_enroll",          CLUS2, est("total", "enroll"))
add("x_clus2_ratio_apistu_enroll",   CLUS2, est("ratio", "api.stu", x = "enroll"))
add("x_clus2_total_enroll_by_awards", CLUS2, est("total", "enroll", by = "awards"))
add("x_clus2_q50_acsk3_hf7",         CLUS2, est("quantile", "acs.k3", q = 0.5, qrule = "hf7"), Q())

## ---- 7. calibration ------------------------------------------------------------------
add("x_strat_post_schwide_mean_api00", STRAT, est("mean", "api00"), calibration = cal("poststratify", "sch.wide"))
add("x_srs_post_stype_total_enroll", SRS, est("total", "enroll"), calibration = cal("poststratify", "stype"))
add("x_clus2_post_stype_mean_api00", CLUS2, est("mean", "api00"), calibration = cal("poststratify", "stype"))
add("x_strat_rake3_mean_api00",      STRAT, est("mean", "api00"), calibration = cal("raking", c("stype", "sch.wide", "awards")))
add("x_clus2_rake2_total_apistu",    CLUS2, est("total", "api.stu"), calibration = cal("raking", c("stype", "awards")))
add("x_srs_rake2_prop_awards_logit", SRS, est("proportion", "awards", level = "Yes"), ci("logit", df = "design"),
    calibration = cal("raking", c("sch.wide", "comp.imp")))
add("x_clus1_linear_num_mean_api00", CLUS1, est("mean", "api00"), calibration = cal("linear", numeric = c("api99", "meals")))
add("x_strat_linear_mixed_total_enroll", STRAT, est("total", "enroll"), calibration = cal("linear", "sch.wide", numeric = "api99"))
add("x_clus2_linear_api99_mean_api00", CLUS2, est("mean", "api00"), calibration = cal("linear", "stype", numeric = "api99"))
add("x_srs_linear_num_prop_schwide_wald", SRS, est("proportion", "sch.wide", level = "Yes"), calibration = cal("linear", numeric = c("api99", "ell")))
add("x_clus1_logit_b05_2_mean_api00", CLUS1, est("mean", "api00"), calibration = cal("logit", c("stype", "sch.wide"), numeric = "api99", bounds = c(0.5, 2)))
add("x_strat_logit_b08_13_total_enroll", STRAT, est("total", "enroll"), calibration = cal("logit", c("sch.wide", "awards"), numeric = "api99", bounds = c(0.8, 1.3)))
add("x_clus2_logit_b08_13_mean_api00", CLUS2, est("mean", "api00"), calibration = cal("logit", c("stype", "awards"), bounds = c(0.8, 1.3)))
add("x_strat_linbound_b08_12_mean_api00", STRAT, est("mean", "api00"), calibration = cal("linear", c("sch.wide", "awards"), numeric = "api99", bounds = c(0.8, 1.2)))
add("x_clus1_linbound_b05_2_total_enroll", CLUS1, est("total", "enroll"), calibration = cal("linear", "stype", numeric = "api99", bounds = c(0.5, 2)))
add("x_clus1_rake_mean_api00_by_stype", CLUS1, est("mean", "api00", by = "stype"), calibration = cal("raking", c("stype", "sch.wide")))
add("x_strat_rake_prop_compimp_by_stype", STRAT, est("proportion", "comp.imp", level = "Yes", by = "stype"),
    calibration = cal("raking", c("sch.wide", "awards")))
add("x_clus2_linear_total_apistu_by_awards", CLUS2, est("total", "api.stu", by = "awards"), calibration = cal("linear", "stype", numeric = "api99"))

## ---- 8. replicate weights ------------------------------------------------------------
add("x_clus1_jk1fpc_mean_api00",     CLUS1, est("mean", "api00"), replicate = rep_("JK1"))
add("x_clus1_jk1_mse_total_enroll",  CLUS1_0, est("total", "enroll"), replicate = rep_("JK1", mse = TRUE))
add("x_clus2_jk1fpc_mean_api00",     CLUS2, est("mean", "api00"), replicate = rep_("JK1"))
add("x_clus2_jk1_prop_awards_by_stype", CLUS2_0, est("proportion", "awards", level = "Yes", by = "stype"), replicate = rep_("JK1"))
add("x_strat_jknfpc_mean_api00",     STRAT, est("mean", "api00"), replicate = rep_("JKn"))
add("x_strat_jkn_mse_prop_schwide",  STRAT0, est("proportion", "sch.wide", level = "Yes"), replicate = rep_("JKn", mse = TRUE))
add("x_nest_jkn_total_enroll",       NEST, est("total", "enroll"), replicate = rep_("JKn"))
add("x_brrdata_jkn_mean_api00",      BRRPSU, est("mean", "api00"), replicate = rep_("JKn"))
add("x_brr_mean_api00",              BRRPSU, est("mean", "api00"), replicate = rep_("BRR"))
add("x_brr_mse_total_apistu",        BRRPSU, est("total", "api.stu"), replicate = rep_("BRR", mse = TRUE))
add("x_brr_prop_awards_wald",        BRRPSU, est("proportion", "awards", level = "Yes"), replicate = rep_("BRR"))
add("x_brr_mean_api00_by_stype",     BRRPSU, est("mean", "api00", by = "stype"), replicate = rep_("BRR"))
add("x_brr_from2stage_mean_api00",   BRR2ST, est("mean", "api00"), replicate = rep_("BRR"))
add("x_fay05_mean_api00",            BRRPSU, est("mean", "api00"), replicate = rep_("Fay", rho = 0.5))
add("x_fay03_mse_total_apistu",      BRRPSU, est("total", "api.stu"), replicate = rep_("Fay", mse = TRUE, rho = 0.3))
add("x_fay05_mse_prop_schwide_wald", BRRPSU, est("proportion", "sch.wide", level = "Yes"), replicate = rep_("Fay", mse = TRUE, rho = 0.5))
add("x_fay03_mean_api00_by_awards",  BRRPSU, est("mean", "api00", by = "awards"), replicate = rep_("Fay", rho = 0.3))
add("x_fay05_ratio_api00_api99",     BRRPSU, est("ratio", "api00", x = "api99"), replicate = rep_("Fay", rho = 0.5))
add("x_fay05_prop_awards_logit_dfdes", BRRPSU, est("proportion", "awards", level = "Yes"), ci("logit", df = "design"), replicate = rep_("Fay", rho = 0.5))
add("x_brr_prop_awards_beta_dfdes",  BRRPSU, est("proportion", "awards", level = "Yes"), ci("beta", df = "design"), replicate = rep_("BRR"))
add("x_clus1_jk1_mean_api00_by_stype_dfdes", CLUS1_0, est("mean", "api00", by = "stype"), ci(df = "design"), replicate = rep_("JK1"))
add("x_clus1_jk1_linear_total_enroll", CLUS1_0, est("total", "enroll"), replicate = rep_("JK1"), calibration = cal("linear", "stype", numeric = "api99"))
add("x_strat_jkn_rake_mean_api00",   STRAT0, est("mean", "api00"), replicate = rep_("JKn"), calibration = cal("raking", c("sch.wide", "awards")))
add("x_strat_jkn_mse_post_mean_api00", STRAT0, est("mean", "api00"), replicate = rep_("JKn", mse = TRUE), calibration = cal("poststratify", "awards"))
add("x_brr_rake_mean_api00",         BRRPSU, est("mean", "api00"), replicate = rep_("BRR"), calibration = cal("raking", c("stype", "awards")))
add("x_fay05_linear_total_apistu",   BRRPSU, est("total", "api.stu"), replicate = rep_("Fay", rho = 0.5), calibration = cal("linear", numeric = "api99"))

## ---- 9. svyglm with a categorical covariate -----------------------------------------
add("x_strat_glm_gaussian_api00_stype_ell", STRAT, est("glm", "api00", x = c("stype", "ell"), family = "gaussian"))
add("x_strat_glm_binomial_schwide_stype", STRAT, est("glm", "sch.wide", x = c("stype", "meals"), level = "Yes", family = "binomial"))
add("x_clus2_glm_gaussian_api00_stype_meals", CLUS2, est("glm", "api00", x = c("stype", "meals"), family = "gaussian"))
add("x_clus2_glm_binomial_awards_stype", CLUS2, est("glm", "awards", x = c("stype", "meals"), level = "Yes", family = "binomial"))
add("x_nest_glm_gaussian_api00_awards", NEST, est("glm", "api00", x = c("awards", "ell", "mobility"), family = "gaussian"))
add("x_clus1_rake_glm_gaussian_api00", CLUS1, est("glm", "api00", x = c("stype", "ell"), family = "gaussian"),
    calibration = cal("raking", c("stype", "sch.wide")))
add("x_strat_linear_glm_binomial_awards", STRAT, est("glm", "awards", x = c("stype", "meals"), level = "Yes", family = "binomial"),
    calibration = cal("linear", "sch.wide", numeric = "api99"))
add("x_clus1_jk1_glm_gaussian_api00", CLUS1_0, est("glm", "api00", x = c("stype", "meals"), family = "gaussian"), replicate = rep_("JK1"))

## ---- 9b. BRR/Fay on strata of more than two PSUs (split into pairs, R's default) -------
add("x_strat_brr_split_mean_api00", STRAT0, est("mean", "api00"), replicate = rep_("BRR"))
add("x_strat_fay03_split_prop_awards_logit", STRAT0, est("proportion", "awards", level = "Yes", by = "stype"),
    ci = ci("logit", df = "design"), replicate = rep_("Fay", rho = 0.3))

## ---- 10. svyglm: replicate designs with a logistic model, missing covariates ----------
add("x_strat_jkn_glm_binomial_schwide", STRAT0, est("glm", "sch.wide", x = c("stype", "meals"), level = "Yes", family = "binomial"), replicate = rep_("JKn"))
add("x_strat_jkn_mse_glm_gaussian_api00", STRAT0, est("glm", "api00", x = c("awards", "ell"), family = "gaussian"), replicate = rep_("JKn", mse = TRUE))
add("x_clus1_jk1_rake_glm_binomial_awards", CLUS1_0, est("glm", "awards", x = c("ell", "meals"), level = "Yes", family = "binomial"),
    replicate = rep_("JK1"), calibration = cal("raking", c("stype", "sch.wide")))
add("x_clus2_glm_gaussian_api00_acs46_na", CLUS2, est("glm", "api00", x = c("acs.46", "stype"), family = "gaussian"))
add("x_strat_glm_binomial_awards_acs46_na", STRAT, est("glm", "awards", x = c("acs.46", "stype", "meals"), level = "Yes", family = "binomial"))

writeLines(toJSON(cases, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), "R/extra-specs.json")
cat(length(cases), "specs written\n")

## Writes the data files and the case specifications of parity-extra.json (run from the
## reference folder, the parent of R/ and data/, with survey 4.5):
##
##   R_LIBS=/work/rlib Rscript R/make_parity_extra.R R/parity-extra-specs.json
##   cd . && R_LIBS=/work/rlib Rscript R/cases.R R/parity-extra-specs.json parity-extra.json
##
## Data files (replicate weights are R's own, from as.svrepdesign(compress = FALSE), written
## as combined weights: full-sample weight x replicate factor):
##   data/apistrat_rep2.csv  apistrat + the pseudo-design of apistrat_rep.csv (vstrat, vpsu)
##                           + JKn replicates of the stratified design (jkn_*, 200; their
##                           rscales (1 - f_h)(n_h - 1)/n_h go into the specs)
##                           + BRR replicates of the pseudo-design (brr_*, 24)
##                           + Fay replicates (rho 0.5) of the pseudo-design (fay_*, 24; as
##                           apistrat_rep.csv)
##   data/apiclus2_pps.csv   apiclus2 + p1 = 40/fpc1, p2 = min(1, 5/fpc2): per-stage
##                           inclusion probabilities (R's tests/pps.R), sorted by dnum, snum
##   data/apiclus1_lonely.csv  apiclus1 + fpc413 (R's tests/lonely.psu.R)
##   data/election_pps.csv   survey's election_pps (R's tests/pps.R) + nader (Nader > 0)
suppressMessages(library(survey)); suppressMessages(library(jsonlite))
stopifnot(packageVersion("survey") >= "4.5")
rd <- function(f) read.csv(file.path("data", f), check.names = FALSE, colClasses = c(cds = "character"))
wr <- function(d, f) write.csv(d, file.path("data", f), row.names = FALSE, na = "")
repcols <- function(rep, prefix) {
  w0 <- weights(rep, "analysis")
  w <- matrix(as.numeric(unclass(w0)), nrow = NROW(w0))
  colnames(w) <- paste0(prefix, seq_len(ncol(w)))
  as.data.frame(w)
}

as <- rd("apistrat.csv")
i <- ave(as$snum, as$stype, FUN = function(s) rank(s))
as$vstrat <- paste0(as$stype, (i - 1) %/% 10 + 1)
as$vpsu <- (i - 1) %% 2 + 1
dstrat <- svydesign(ids = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = as)
jkn <- as.svrepdesign(dstrat, type = "JKn", compress = FALSE)
ds <- svydesign(ids = ~vpsu, strata = ~vstrat, weights = ~pw, nest = TRUE, data = as)
brr <- as.svrepdesign(ds, type = "BRR", compress = FALSE)
fay <- as.svrepdesign(ds, type = "Fay", fay.rho = 0.5, compress = FALSE)
wr(cbind(as, repcols(jkn, "jkn_"), repcols(brr, "brr_"), repcols(fay, "fay_")), "apistrat_rep2.csv")
jkn_rscales <- as.numeric(jkn$rscales)

a2 <- read.csv(file.path("data", "apiclus2.csv"), check.names = FALSE, colClasses = c(cds = "character"))
a2$p1 <- 40 / a2$fpc1
a2$p2 <- pmin(1, 5 / a2$fpc2)
a2 <- a2[order(a2$dnum, a2$snum), ]
wr(a2, "apiclus2_pps.csv")

## apiclus1_lonely.csv: apiclus1 + fpc413 = 1 for district 413 (one school: a certainty
## stratum), 1000 elsewhere, as R's tests/lonely.psu.R
a1 <- rd("apiclus1.csv")
a1$fpc413 <- ifelse(a1$dnum == 413, 1, 1000)
wr(a1, "apiclus1_lonely.csv")

## election_pps.csv: survey's data(election) PPS sample of 40 counties (R's tests/pps.R),
## + nader = whether Nader had votes (R's subset(dpps, Nader > 0) as a domain)
data(election)
ep <- election_pps
ep$County <- as.character(ep$County)
ep$nader <- ifelse(ep$Nader > 0, "yes", "no")
wr(ep, "election_pps.csv")

## ---------------------------------------------------------------- the case specifications
cim <- function(method = "wald", df = "inf", level = 0.95) list(method = method, level = level, df = df)
des <- function(ids = NULL, strata = NULL, weights = NULL, fpc = NULL, ...) {
  c(list(ids = ids, strata = strata, weights = weights, fpc = fpc), list(...))
}
rw <- function(prefix = NULL, type, columns = NULL, ...) {
  r <- list(type = type, ...)
  if (!is.null(prefix)) r$prefix <- prefix
  if (!is.null(columns)) r$columns <- columns
  r
}
case <- function(id, data, design, estimator, ci = cim(), calibration = NULL, note = NULL,
                 replicate = NULL) {
  x <- list(id = id, data = data, design = design, replicate = replicate, calibration = calibration,
            estimator = estimator, ci = ci)
  if (!is.null(note)) x$note <- note
  x
}
est <- function(stat, y, ...) list(stat = stat, y = y, ...)
rep_design <- function(r) des(weights = "pw", repweights = r)
jknr <- rw("jkn_", "JKn", rscales = jkn_rscales)
fay <- rw("fay_", "Fay", rho = 0.5)
clus1_lonely <- function(policy) des(ids = "dnum", strata = "cname", weights = "pw", lonely_psu = policy)
clus2_lonely <- function(policy) des(ids = c("dnum", "snum"), strata = "cname", weights = "pw",
                                     fpc = c("fpc1", "fpc2"), lonely_psu = policy)
pop <- read.csv(file.path("data", "apipop.csv"), check.names = FALSE)
stype_counts <- as.list(table(pop$stype))

lonely_r <- function(policy, fpc, rep) {
  id <- paste0("px_rtest_lonely_", policy, if (fpc) "_fpc" else "", if (rep) "_jkn" else "", "_mean_api00")
  case(id, if (fpc) "apiclus1_lonely.csv" else "apiclus1.csv",
       des(strata = "dnum", weights = "pw", fpc = if (fpc) "fpc413" else NULL, lonely_psu = policy),
       est("mean", "api00"), replicate = if (rep) list(type = "JKn") else NULL,
       note = "R's tests/lonely.psu.R")
}
lonely_r_cases <- list()
for (fpc in c(FALSE, TRUE)) for (rep in c(FALSE, TRUE)) for (policy in c("remove", "certainty", "adjust", "average"))
  lonely_r_cases[[length(lonely_r_cases) + 1]] <- lonely_r(policy, fpc, rep)
lonely_r_cases[[length(lonely_r_cases) + 1]] <- case(
  "px_rtest_lonely_fpc_jkn_total_api00", "apiclus1_lonely.csv",
  des(strata = "dnum", weights = "pw", fpc = "fpc413", lonely_psu = "fail"), est("total", "api00"),
  replicate = list(type = "JKn"), note = "R's tests/lonely.psu.R: svytotal(~api00, as.svrepdesign(ds)) with the certainty stratum")

cases <- list(
  ## supplied replicate weights: JKn with rscales, BRR, Fay, bootstrap, JK1, other
  case("px_strat_repw_jkn_mean_api00", "apistrat_rep2.csv", rep_design(jknr),
       est("mean", "api00"), cim("wald", "design"),
       note = "JKn replicate weights of the stratified design with their rscales (1 - f_h)(n_h - 1)/n_h"),
  case("px_strat_repw_jkn_ratio_api00_api99_by_stype", "apistrat_rep2.csv", rep_design(jknr),
       est("ratio", "api00", x = "api99", by = "stype")),
  case("px_strat_repw_jkn_total_enroll_mse", "apistrat_rep2.csv",
       rep_design(rw("jkn_", "JKn", rscales = jkn_rscales, mse = TRUE)), est("total", "enroll")),
  case("px_strat_repw_brr_total_enroll", "apistrat_rep2.csv", rep_design(rw("brr_", "BRR")),
       est("total", "enroll"), cim("wald", "design")),
  case("px_strat_repw_brr_prop_awards_beta", "apistrat_rep2.csv", rep_design(rw("brr_", "BRR")),
       est("proportion", "awards", level = "Yes"), cim("beta", "design")),
  case("px_strat_repw_fay_mean_api00_by_stype", "apistrat_rep2.csv", rep_design(fay),
       est("mean", "api00", by = "stype"), cim("wald", "design")),
  case("px_strat_repw_fay_prop_schwide_logit", "apistrat_rep2.csv", rep_design(fay),
       est("proportion", "sch.wide", level = "Yes"), cim("logit", "inf")),
  case("px_strat_repw_other_mean_api00", "apistrat_rep2.csv",
       rep_design(rw("fay_", "other", scale = 1 / 6, rscales = rep(1, 24))),
       est("mean", "api00"),
       note = "Fay replicates read as type other with scale 1/(R (1 - rho)^2) = 1/6 and rscales 1: the Fay variance"),
  case("px_strat_repw_other_rscales_total_api_stu", "apistrat_rep2.csv",
       rep_design(rw("jkn_", "other", scale = 1, rscales = jkn_rscales)),
       est("total", "api.stu"), cim("wald", "design")),
  case("px_clus1_repw_jk1_columns_total_enroll_by_stype", "apiclus1_rep.csv",
       rep_design(rw(type = "JK1", columns = paste0("jk1_", 1:15), scale = 14 / 15)),
       est("total", "enroll", by = "stype")),
  case("px_clus1_repw_jk1_default_scale_mean_api00", "apiclus1_rep.csv",
       rep_design(rw("jk1_", "JK1")), est("mean", "api00"), cim("wald", "design"),
       note = "JK1 without scale: R takes (R - 1)/R, R the number of replicates"),
  case("px_clus1_repw_boot_ratio_api00_api99", "apiclus1_rep.csv",
       rep_design(rw("bs_", "bootstrap")), est("ratio", "api00", x = "api99"),
       note = "bootstrap without scale: R's default 1/(R - 1)"),
  case("px_clus1_repw_jk1_rake_mean_api00", "apiclus1_rep.csv", rep_design(rw("jk1_", "JK1", scale = 14 / 15)),
       est("mean", "api00"), calibration = list(method = "raking", categorical = list(stype = stype_counts),
                                                total = nrow(pop)),
       note = "calibration of a design with supplied replicate weights re-calibrates every replicate"),
  case("px_clus1_repw_boot_mse_prop_schwide_logit", "apiclus1_rep.csv",
       rep_design(rw("bs_", "bootstrap", mse = TRUE)), est("proportion", "sch.wide", level = "Yes"),
       cim("logit", "design")),
  case("px_clus1_repw_jk1_quantile_hf7_api00_by_stype", "apiclus1_rep.csv",
       rep_design(rw("jk1_", "JK1", scale = 14 / 15)), est("quantile", "api00", q = 0.75, qrule = "hf7", by = "stype"),
       cim("woodruff")),
  case("px_strat_repw_brr_ratio_api00_api99_by_awards", "apistrat_rep2.csv", rep_design(rw("brr_", "BRR")),
       est("ratio", "api00", x = "api99", by = "awards"), cim("wald", "design")),
  case("px_strat_repw_fay_linear_total_enroll", "apistrat_rep2.csv", rep_design(fay),
       est("total", "enroll"), calibration = list(method = "linear", categorical = list(stype = stype_counts),
                                                  numeric = list(api99 = sum(pop$api99, na.rm = TRUE)), total = nrow(pop))),
  case("px_clus1_rake_bounds_stype_api99_mean_api00", "apiclus1.csv",
       des(ids = "dnum", weights = "pw", fpc = "fpc"), est("mean", "api00"),
       calibration = list(method = "raking", categorical = list(stype = stype_counts),
                          numeric = list(api99 = sum(pop$api99, na.rm = TRUE)), total = nrow(pop),
                          bounds = c(0.6, 1.6)),
       note = "bounded raking to margins of very different scales (counts, a total of scores): converges"),
  case("px_clus1_rake_bounds_stype_api99_total_enroll_by_stype", "apiclus1.csv",
       des(ids = "dnum", weights = "pw", fpc = "fpc"), est("total", "enroll", by = "stype"),
       calibration = list(method = "raking", categorical = list(stype = stype_counts),
                          numeric = list(api99 = sum(pop$api99, na.rm = TRUE)), total = nrow(pop),
                          bounds = c(0.6, 1.6))),
  ## PPS without replacement
  case("px_pps_brewer_mean_api00_by_stype", "apipps.csv", des(fpc = "pi", pps = "brewer"),
       est("mean", "api00", by = "stype")),
  case("px_pps_brewer_ratio_api00_api99", "apipps.csv", des(fpc = "pi", pps = "brewer"),
       est("ratio", "api00", x = "api99")),
  case("px_pps_brewer_strat_total_api00", "apipps.csv", des(strata = "stype", fpc = "pi", pps = "brewer"),
       est("total", "api00"), cim("wald", "design")),
  case("px_pps_overton_total_enroll_by_stype", "apipps.csv", des(fpc = "pi", pps = "overton"),
       est("total", "api.stu", by = "stype"),
       note = "R's deff for a total of an Overton design is V / (s^2 N^2), without the division by n"),
  case("px_pps_overton_total_api00", "apipps.csv", des(fpc = "pi", pps = "overton"),
       est("total", "api00")),
  case("px_pps_overton_mean_meals_by_stype", "apipps.csv", des(fpc = "pi", pps = "overton"),
       est("mean", "meals", by = "stype")),
  case("px_pps_overton_ratio_api00_api99", "apipps.csv", des(fpc = "pi", pps = "overton"),
       est("ratio", "api00", x = "api99")),
  case("px_pps_overton_prop_awards", "apipps.csv", des(fpc = "pi", pps = "overton"),
       est("proportion", "awards", level = "Yes"), cim("wald", "inf")),
  case("px_pps_brewer_twostage_total_enroll", "apiclus2_pps.csv",
       des(ids = c("dnum", "snum"), fpc = c("p1", "p2"), pps = "brewer"), est("total", "enroll"),
       note = "two-stage Brewer: the second stage is multiplied by the first stage's inclusion probability"),
  case("px_pps_brewer_twostage_mean_api00", "apiclus2_pps.csv",
       des(ids = c("dnum", "snum"), fpc = c("p1", "p2"), pps = "brewer"), est("mean", "api00")),
  case("px_pps_overton_linear_mean_api00", "apipps.csv", des(fpc = "pi", pps = "overton"),
       est("mean", "api00"), calibration = list(method = "linear", categorical = list(stype = stype_counts),
                                                total = nrow(pop)),
       note = "calibrated Overton design: R's ppsvar takes the calibration residuals"),
  case("px_pps_brewer_raking_total_api_stu", "apipps.csv", des(fpc = "pi", pps = "brewer"),
       est("total", "api.stu"), calibration = list(method = "raking", categorical = list(stype = stype_counts),
                                                   total = nrow(pop))),
  case("px_pps_brewer_glm_api00", "apipps.csv", des(fpc = "pi", pps = "brewer"),
       list(stat = "glm", y = "api00", x = list("api99", "stype"), family = "gaussian")),
  case("px_pps_overton_glm_awards", "apipps.csv", des(fpc = "pi", pps = "overton"),
       list(stat = "glm", y = "awards", level = "Yes", x = list("meals"), family = "binomial")),
  case("px_strat_repw_fay_quantile_api00", "apistrat_rep2.csv", rep_design(fay),
       est("quantile", "api00", q = 0.5, qrule = "math"), cim("woodruff")),
  case("px_pps_brewer_quantile_api00", "apipps.csv", des(fpc = "pi", pps = "brewer"),
       est("quantile", "api00", q = 0.25, qrule = "hf7"), cim("woodruff")),
  case("px_clus1_lonely_adjust_glm_api00", "apiclus1.csv", clus1_lonely("adjust"),
       list(stat = "glm", y = "api00", x = list("api99"), family = "gaussian")),
  case("px_pps_probs_mean_api00", "apipps.csv", des(probs = "pi"), est("mean", "api00"),
       note = "probs: weights 1/pi, with replacement (no fpc)"),
  ## lonely PSUs
  case("px_clus1_lonely_average_total_enroll", "apiclus1.csv", clus1_lonely("average"),
       est("total", "enroll")),
  case("px_clus1_lonely_average_mean_api00", "apiclus1.csv", clus1_lonely("average"),
       est("mean", "api00")),
  case("px_clus1_lonely_adjust_mean_api00", "apiclus1.csv", clus1_lonely("adjust"),
       est("mean", "api00")),
  case("px_clus1_lonely_adjust_ratio_api00_api99", "apiclus1.csv", clus1_lonely("adjust"),
       est("ratio", "api00", x = "api99")),
  case("px_clus1_lonely_adjust_total_enroll_by_stype", "apiclus1.csv", clus1_lonely("adjust"),
       est("total", "enroll", by = "stype")),
  case("px_clus1_lonely_average_mean_api00_by_stype", "apiclus1.csv", clus1_lonely("average"),
       est("mean", "api00", by = "stype")),
  case("px_clus1_lonely_certainty_total_enroll", "apiclus1.csv", clus1_lonely("certainty"),
       est("total", "enroll")),
  case("px_clus2_lonely_adjust_total_enroll", "apiclus2.csv", clus2_lonely("adjust"),
       est("total", "enroll"),
       note = "stratified two-stage with fpc: lonely PSUs at the first stage (one district in a county) and at the second (one school of several in a district)"),
  case("px_clus2_lonely_adjust_mean_api00", "apiclus2.csv", clus2_lonely("adjust"),
       est("mean", "api00")),
  case("px_clus2_lonely_remove_total_enroll", "apiclus2.csv", clus2_lonely("remove"),
       est("total", "enroll")),
  case("px_clus2_lonely_average_firststage_total_enroll", "apiclus2.csv",
       des(ids = c("dnum", "snum"), strata = "cname", weights = "pw", fpc = "fpc1", lonely_psu = "average"),
       est("total", "enroll"),
       note = "fpc at the first stage only: the second stage is with replacement and its lonely PSUs make the variance NaN under average (not compared)"),
  case("px_clus1_jkn_lonely_average_mean_api00", "apiclus1.csv",
       clus1_lonely("average"), est("mean", "api00"), replicate = list(type = "JKn"),
       note = "as.svrepdesign JKn with lonely PSUs, average: scale #PSUs / #replicates"),
  case("px_clus1_jkn_lonely_adjust_total_enroll", "apiclus1.csv", clus1_lonely("adjust"),
       est("total", "enroll"), replicate = list(type = "JKn"),
       note = "as.svrepdesign JKn with lonely PSUs, adjust: an extra replicate per lonely stratum"),
  case("px_clus1_jkn_lonely_remove_mean_api00_by_stype", "apiclus1.csv", clus1_lonely("remove"),
       est("mean", "api00", by = "stype"), replicate = list(type = "JKn")),
  case("px_clus1_lonely_adjust_quantile_api00", "apiclus1.csv", clus1_lonely("adjust"),
       est("quantile", "api00", q = 0.5, qrule = "math"), cim("woodruff")),
  case("px_clus1_lonely_average_prop_schwide_by_stype_beta", "apiclus1.csv", clus1_lonely("average"),
       est("proportion", "sch.wide", level = "Yes", by = "stype"), cim("beta", "design")),
  case("px_clus1_lonely_adjust_raking_total_enroll_by_stype", "apiclus1.csv", clus1_lonely("adjust"),
       est("total", "enroll", by = "stype"),
       calibration = list(method = "raking", categorical = list(stype = stype_counts), total = nrow(pop)),
       note = "a calibrated design keeps the rows out of a domain in R: every stratum counts for adjust"),
  case("px_clus1_lonely_average_linear_mean_api00_by_stype", "apiclus1.csv", clus1_lonely("average"),
       est("mean", "api00", by = "stype"),
       calibration = list(method = "linear", categorical = list(stype = stype_counts), total = nrow(pop))),
  case("px_pps_brewer_strat_lonely_adjust_total_api00", "apipps.csv",
       des(strata = "cname", fpc = "pi", pps = "brewer", lonely_psu = "adjust"), est("total", "api00"),
       note = "Brewer stratified by county, counties with one school: adjust"),
  case("px_pps_brewer_strat_lonely_average_mean_api00_by_stype", "apipps.csv",
       des(strata = "cname", fpc = "pi", pps = "brewer", lonely_psu = "average"),
       est("mean", "api00", by = "stype")),
  case("px_srs_quantile_lowp_math_api00_by_stype", "apisrs.csv",
       des(weights = "pw", fpc = "fpc"), est("quantile", "api00", q = 0.01, qrule = "math", by = "stype"),
       cim("woodruff"))
)
## R's tests/lonely.psu.R: schools stratified by district, district 413 has one school
cases <- c(cases, lonely_r_cases)
## R's tests/pps.R: the election PPS sample, Brewer (with and without weights), Overton,
## with replacement, totals of the three candidates and the Nader > 0 domain
for (cand in c("Bush", "Kerry", "Nader")) {
  cases[[length(cases) + 1]] <- case(paste0("px_rtest_pps_brewer_wt_total_", cand), "election_pps.csv",
    des(weights = "wt", fpc = "p", pps = "brewer"), est("total", cand), note = "R's tests/pps.R")
  cases[[length(cases) + 1]] <- case(paste0("px_rtest_pps_brewer_total_", cand), "election_pps.csv",
    des(fpc = "p", pps = "brewer"), est("total", cand), note = "R's tests/pps.R")
  cases[[length(cases) + 1]] <- case(paste0("px_rtest_pps_overton_total_", cand), "election_pps.csv",
    des(fpc = "p", pps = "overton"), est("total", cand), note = "R's tests/pps.R")
  cases[[length(cases) + 1]] <- case(paste0("px_rtest_pps_overton_wt_total_", cand), "election_pps.csv",
    des(weights = "wt", fpc = "p", pps = "overton"), est("total", cand),
    note = "R's svydesign(pps = 'overton') ignores weights: 1/p")
  cases[[length(cases) + 1]] <- case(paste0("px_rtest_pps_wr_total_", cand), "election_pps.csv",
    des(weights = "wt"), est("total", cand), note = "R's tests/pps.R: with replacement")
  cases[[length(cases) + 1]] <- case(paste0("px_rtest_pps_brewer_total_", cand, "_by_nader"), "election_pps.csv",
    des(weights = "wt", fpc = "p", pps = "brewer"), est("total", cand, by = "nader"),
    note = "R's tests/pps.R: subset(dpps, Nader > 0)")
  cases[[length(cases) + 1]] <- case(paste0("px_rtest_pps_overton_mean_", cand, "_by_nader"), "election_pps.csv",
    des(fpc = "p", pps = "overton"), est("mean", cand, by = "nader"))
}
writeLines(toJSON(cases, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           commandArgs(TRUE)[1])

# Recompute a run's published small-area estimates with R's sae (issue 17's bar):
#   R_LIBS=/work/rlib Rscript check_opendata.R <run>/opendata/small_area_estimates.csv
# For every indicator, eblupFH / mseFH (REML, or FH where the run fell back to it) on the
# published direct, smoothed_var and covariates; prints the largest relative differences.
suppressPackageStartupMessages(library(sae))
path <- commandArgs(trailingOnly = TRUE)[1]
t <- read.csv(path, colClasses = c(region = "character"))
covs <- list(online_all = c("admin_tax_online", "internet_daily"),
             satisfied = c("internet_daily", "age_65plus"),
             gave_up = c("internet_daily", "age_65plus"),
             co_online_users = c("admin_vat_online", "firms_10plus"))
worst <- 0
for (ind in names(covs)) {
  d <- t[t$indicator == ind, ]
  meth <- if (grepl("(FH)", d$method[1], fixed = TRUE)) "FH" else "REML"
  f <- as.formula(paste("direct ~", paste(covs[[ind]], collapse = " + ")))
  e <- do.call(eblupFH, list(formula = f, vardir = quote(smoothed_var), method = meth,
                             data = d))
  s <- do.call(mseFH, list(formula = f, vardir = quote(smoothed_var), method = meth,
                           data = d))
  ok <- d$status != "suppressed"
  r1 <- max(abs(as.vector(e$eblup)[ok] - d$eblup[ok]) / abs(d$eblup[ok]))
  r2 <- max(abs(s$mse[ok] - d$mse[ok]) / d$mse[ok])
  cat(sprintf("%-16s %-4s eblup max rel diff %.2e, mse max rel diff %.2e\n", ind, meth, r1, r2))
  worst <- max(worst, r1, r2)
}
cat(sprintf("worst %.2e\n", worst))

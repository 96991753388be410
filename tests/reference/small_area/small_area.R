# Reference values for barometer.survey.small_area: R's sae::eblupFH and sae::mseFH.
# Run from this folder:  R_LIBS=/work/rlib Rscript small_area.R
# (R 4.2.2, sae 1.3; jsonlite). Writes the data sets as CSV and small_area.json.
suppressPackageStartupMessages({library(sae); library(jsonlite)})

# 1. sae's milk data (Arora & Lahiri 1997): 43 small areas, factor MajorArea
data(milk)
milk$var <- milk$SD^2
write.csv(milk, "milk.csv", row.names = FALSE)

# 2. synthetic: 30 areas, two numeric covariates, A = 0.8
set.seed(2017)
m <- 30
synth <- data.frame(area = sprintf("a%02d", 1:m), x1 = runif(m), x2 = rnorm(m))
synth$var <- runif(m, 0.2, 2.5)
synth$y <- 1 + 2 * synth$x1 - 0.7 * synth$x2 + rnorm(m, 0, sqrt(0.8)) +
  rnorm(m, 0, sqrt(synth$var))
write.csv(synth, "synth.csv", row.names = FALSE)

# 3. a data set whose REML, ML and FH variance estimates all hit 0 (no area effect):
#    the first seed from 1 for which they do
seed <- 0
repeat {
  seed <- seed + 1
  set.seed(seed)
  m <- 15
  z <- data.frame(area = 1:m, x = rnorm(m, 5, 2))
  z$var <- runif(m, 0.5, 1.5)
  z$y <- 2 + 0.5 * z$x + rnorm(m, 0, sqrt(z$var))
  A <- sapply(c("REML", "ML", "FH"), function(meth)
    eblupFH(y ~ x, var, method = meth, data = z)$fit$refvar)
  if (all(A == 0)) break
}
zero <- z
write.csv(zero, "zero.csv", row.names = FALSE)

# 4. thirteen regional shares (model on the share scale), covariates: an admin share and a
#    census share, sampling variances p(1-p)/n times a design effect
set.seed(13)
m <- 13
reg <- data.frame(region = sprintf("R%02d", 1:m), n = c(5, 12, 25, 40, 60, 75, 90, 100,
                                                           120, 140, 150, 170, 185))
reg$admin <- runif(m, 0.3, 0.7)
reg$degree <- runif(m, 0.15, 0.45)
theta <- 0.05 + 0.8 * reg$admin + 0.3 * reg$degree + rnorm(m, 0, 0.04)
reg$y <- pmin(pmax(theta + rnorm(m, 0, sqrt(1.6 * theta * (1 - theta) / reg$n)), 0.02), 0.98)
reg$var <- 1.6 * reg$y * (1 - reg$y) / reg$n
write.csv(reg, "regions.csv", row.names = FALSE)

fit <- function(name, formula, data) {
  out <- list()
  for (meth in c("REML", "ML", "FH")) {
    e <- do.call(eblupFH, list(formula = formula, vardir = quote(var), method = meth,
                                data = data))
    s <- do.call(mseFH, list(formula = formula, vardir = quote(var), method = meth,
                              data = data))
    out[[meth]] <- list(
      refvar = e$fit$refvar, iterations = e$fit$iterations,
      convergence = e$fit$convergence,
      beta = unname(e$fit$estcoef$beta), beta_se = unname(e$fit$estcoef$std.error),
      terms = rownames(e$fit$estcoef),
      loglike = unname(e$fit$goodness["loglike"]), AIC = unname(e$fit$goodness["AIC"]),
      BIC = unname(e$fit$goodness["BIC"]),
      eblup = as.vector(e$eblup), mse = as.vector(s$mse))
  }
  out
}

milk$MajorArea <- as.factor(milk$MajorArea)
ref <- list(
  meta = list(R = R.version.string, sae = as.character(packageVersion("sae")),
              zero_seed = seed),
  milk = list(data = "milk.csv", formula = "yi ~ as.factor(MajorArea)", y = "yi",
              vardir = "var", covariates = list("MajorArea"), categorical = list("MajorArea"),
              fit = fit("milk", yi ~ MajorArea, milk)),
  synth = list(data = "synth.csv", formula = "y ~ x1 + x2", y = "y", vardir = "var",
               covariates = list("x1", "x2"), categorical = list(),
               fit = fit("synth", y ~ x1 + x2, synth)),
  zero = list(data = "zero.csv", formula = "y ~ x", y = "y", vardir = "var",
              covariates = list("x"), categorical = list(),
              fit = fit("zero", y ~ x, zero)),
  regions = list(data = "regions.csv", formula = "y ~ admin + degree", y = "y",
                 vardir = "var", covariates = list("admin", "degree"), categorical = list(),
                 fit = fit("regions", y ~ admin + degree, reg)),
  regions_noint = list(data = "regions.csv", formula = "y ~ admin - 1", y = "y",
                       vardir = "var", covariates = list("admin"), categorical = list(),
                       intercept = FALSE, fit = fit("regions", y ~ admin - 1, reg))
)
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, pretty = TRUE), "small_area.json")

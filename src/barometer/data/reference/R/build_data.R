## Builds the data files of data/ (run from the reference folder) that are not copies of
## shared/reference/r-survey/data (apisrs, apistrat, apiclus1, apipop are byte copies).
##   Rscript build_data.R        (run from tests/reference/extra/)
## Writes:
##   data/apiclus2.csv  survey's own two-stage cluster sample (data(api)): 40 districts,
##                      then up to 5 schools per district; fpc1 = 757 districts,
##                      fpc2 = schools in the district, pw = sampling weight.
##   data/apibrr.csv    a deterministic stratified two-stage sample from apipop with
##                      exactly 2 PSUs (districts) per stratum, for BRR / Fay (see README).
suppressMessages(library(survey))
data(api)
write.csv(apiclus2, "data/apiclus2.csv", row.names = FALSE)

## --- apibrr -------------------------------------------------------------------------
## Frame of districts: every dnum of apipop with its county (cnum) and school count M.
pop <- apipop
## (a few districts span two counties: take the smallest cnum as the district's county)
dist <- aggregate(list(M = pop$snum), list(dnum = pop$dnum), FUN = length)
dist$cnum <- as.vector(tapply(pop$cnum, pop$dnum, min)[as.character(dist$dnum)])
## sort by county then district number (a geographic key), cut into H = 16 contiguous
## pseudo-strata of (nearly) equal numbers of districts
dist <- dist[order(dist$cnum, dist$dnum), ]
H <- 16
dist$pstrat <- cut(seq_len(nrow(dist)), H, labels = FALSE)
set.seed(20240611)
out <- list()
for (h in seq_len(H)) {
  fr <- dist[dist$pstrat == h, ]
  Nh <- nrow(fr)
  pick <- fr[sort(sample.int(Nh, 2)), ]            # 2 districts, SRS w/o replacement
  for (k in seq_len(nrow(pick))) {
    sch <- pop[pop$dnum == pick$dnum[k], ]
    sch <- sch[order(sch$snum), ]
    Mi <- nrow(sch)
    mi <- min(Mi, 4)
    s <- sch[sort(sample.int(Mi, mi)), ]            # up to 4 schools, SRS w/o replacement
    s$pstrat <- h
    s$fpc1 <- Nh                                    # districts in the stratum
    s$fpc2 <- Mi                                    # schools in the district
    s$pw <- (Nh / 2) * (Mi / mi)
    out[[length(out) + 1]] <- s
  }
}
apibrr <- do.call(rbind, out)
rownames(apibrr) <- NULL
stopifnot(all(tapply(apibrr$dnum, apibrr$pstrat, function(x) length(unique(x))) == 2))
write.csv(apibrr, "data/apibrr.csv", row.names = FALSE)
cat("apiclus2:", nrow(apiclus2), "rows; apibrr:", nrow(apibrr), "rows,",
    length(unique(apibrr$dnum)), "districts in", H, "strata\n")

## tests/reference/extra/hadamard.R -- exports R survey's hadamard(n) for tests/test_hadamard.py.
##   Rscript hadamard.R hadamard.json          (run from tests/reference/extra/)
##
## Writes a JSON object:
##   r_version, survey_version   the versions that computed the file
##   matrices   list of distinct matrices returned; each a list of rows, a row being its 0/1
##              entries read as one binary number and written in hexadecimal (left-padded
##              with zeros to ceiling(ncol / 4) digits)
##   full       {"n": index (0-based) into matrices} for n = 1..100, 127, 200, 255
##   md5        {"n": [order, md5]} for n = 101..600: the order of hadamard(n) and the MD5 of
##              its rows written as 0/1 strings, one per line, each ending in "\n"
suppressMessages(library(survey)); suppressMessages(library(jsonlite))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "hadamard.json"

rows01 <- function(H) apply(H, 1, paste, collapse = "")
hexrow <- function(s) {
  bits <- strsplit(s, "")[[1]]
  w <- ceiling(length(bits) / 4)
  bits <- c(rep("0", 4 * w - length(bits)), bits)
  paste(vapply(seq(1, 4 * w, 4), function(i)
    sprintf("%x", strtoi(paste(bits[i:(i + 3)], collapse = ""), base = 2)), ""), collapse = "")
}

stopifnot(all(survey:::hadamard(1) %in% 0:1))
full_n <- c(1:100, 127, 200, 255)
keys <- character(0); matrices <- list(); full <- list()
for (n in full_n) {
  H <- survey:::hadamard(n)
  stopifnot(all(H %in% 0:1), nrow(H) == ncol(H), nrow(H) > n)
  r <- vapply(rows01(H), hexrow, "", USE.NAMES = FALSE)
  key <- paste(r, collapse = " ")
  i <- match(key, keys)
  if (is.na(i)) { keys <- c(keys, key); matrices[[length(keys)]] <- r; i <- length(keys) }
  full[[as.character(n)]] <- i - 1L
}

md5 <- list()
f <- tempfile()
for (n in 101:600) {
  H <- survey:::hadamard(n)
  stopifnot(all(H %in% 0:1), nrow(H) == ncol(H), nrow(H) > n)
  writeLines(rows01(H), f)
  md5[[as.character(n)]] <- list(nrow(H), unname(tools::md5sum(f)))
}
unlink(f)

res <- list(r_version = R.version.string,
            survey_version = as.character(packageVersion("survey")),
            matrices = matrices, full = full, md5 = md5)
writeLines(toJSON(res, auto_unbox = TRUE), out)

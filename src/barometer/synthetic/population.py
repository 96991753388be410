"""Synthetic populations of adults and companies for one year, with their true answers.

Each population is a frame of units (200,000 adults, 100,000 companies by default), each
standing for ``weight`` real units so that totals are the real ones of DOMAIN.md. Every
unit carries the calibration and domain variables and an answer to every questionnaire
item, drawn from logistic models whose intercept is solved each year so that the
population share follows the headline figures the real scoreboard published for 2014-2017
(:data:`HEADLINES`, from DOMAIN.md: in 2016, 37% of adults did a procedure in the last 12
months, 3 in 4 of them online, 28% of all adults; 90% of online users satisfied; companies
< 10 employees 78% satisfied, 10+ employees 74% online and 95% satisfied), then a linear
path to 2025, with steep age / education / internet-use gradients for adults and a size
gradient for companies. Item nonresponse (don't know, refused) is an attribute of the
unit; filtered items are coded 97 (not asked) outside their filter.

Regions differ as real ones do (:data:`REGION_OLDER`, :data:`REGION_DEGREE`): in their
age structure and share of graduates, hence in internet use, which the census covariates
of the small-area models see; and by persistent regional effects on the logit scale
(:func:`region_effects`, fixed over the years) on the online propensity, shared with the
online uptake of the administrative services (which the administrative covariates see),
plus a part no covariate sees, on online use, satisfaction and giving up. The regional
truths are therefore a regression on the covariates plus a random area effect: the
Fay–Herriot (1979) model, up to the nonlinearity of the logistic link.

Everything is vectorised and driven by the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from barometer.scoreboard.codebook import Codebook

AGE_BANDS = ("18-24", "25-34", "35-49", "50-64", "65+")
PCS = ("farmers", "self_employed", "executives", "intermediate", "employees",
       "manual_workers", "retired", "other_inactive")
REGIONS = ("11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94")
REGION_ADULTS_2014 = (8_920_182, 1_960_141, 2_162_980, 2_512_309, 4_417_686, 4_240_158,
                      2_749_829, 2_487_567, 4_574_163, 4_417_635, 5_892_031, 3_846_273,
                      258_296)
"""INSEE adults (20+) by region, 2014 (DOMAIN.md), in the order of ``REGIONS``."""
URBAN = ("rural", "2k-20k", "20k-100k", "100k+", "paris")
EDUCATION = ("below_bac", "bac", "bac+2", "bac+3")
INTERNET = ("daily", "weekly", "less", "never")
SIZE_BANDS = ("0", "1-9", "10-49", "50-249", "250+")
SECTORS = ("industry", "construction", "trade", "services")

FIRST, LAST = 2014, 2025

HEADLINES: dict[str, dict[int, float]] = {
    # adults who did at least one administrative procedure in the last 12 months: 37% in
    # 2016 (SGMAP scoreboard 2016); 2015 and 2014 follow the +2 pts a year of online use
    "proc": {2014: 0.34, 2015: 0.355, 2016: 0.37, 2017: 0.385, 2025: 0.58},
    # of those, the share who did it online: "3 in 4" in 2016 (28% of all adults, +2 pts on
    # 2015: 26% / 35.5%); rising as the Baromètre du numérique's online procedures do
    "online": {2014: 0.70, 2015: 0.732, 2016: 0.757, 2017: 0.77, 2025: 0.88},
    # online users satisfied (very or fairly): 90% in 2016
    "satis": {2014: 0.88, 2015: 0.89, 2016: 0.90, 2017: 0.90, 2025: 0.91},
    # companies with fewer than 10 employees satisfied: 78% in 2016 (-11 pts on 2015)
    "co_satis_small": {2014: 0.87, 2015: 0.89, 2016: 0.78, 2017: 0.80, 2025: 0.86},
    # companies with 10+ employees satisfied: 95% in 2016 (+7 pts on 2015)
    "co_satis_10plus": {2014: 0.87, 2015: 0.88, 2016: 0.95, 2017: 0.95, 2025: 0.95},
    # companies with 10+ employees who did their procedures online: 74% in 2016 (+8 pts)
    "co_online_10plus": {2014: 0.62, 2015: 0.66, 2016: 0.74, 2017: 0.77, 2025: 0.88},
    # companies with fewer than 10 employees online (not published: below the 10+)
    "co_online_small": {2014: 0.50, 2015: 0.52, 2016: 0.55, 2017: 0.57, 2025: 0.76},
    # companies for which online procedures made relations easier: 35% in 2016
    "co_easier": {2014: 0.32, 2015: 0.335, 2016: 0.35, 2017: 0.36, 2025: 0.45},
}
"""National targets per year (DOMAIN.md, the SGMAP scoreboard's published 2016 results and
their changes on 2015), linearly interpolated between the years given (:func:`headline`)."""

REGION_OLDER = (-0.45, 0.20, 0.25, 0.20, -0.15, 0.00, 0.00, 0.20, 0.30, 0.15, -0.10,
                0.20, 0.35)
"""Age tilt of each region (order of ``REGIONS``): log-odds of living there rise by this
times (-1, -0.5, 0, 0.5, 1) over the age bands 18-24 .. 65+ (older: Corse, Nouvelle-Aquitaine,
Bourgogne-Franche-Comté; younger: Île-de-France, Hauts-de-France; INSEE census)."""
REGION_DEGREE = (0.70, -0.20, -0.20, -0.25, -0.30, -0.15, 0.00, 0.05, -0.05, 0.10, 0.15,
                 0.05, -0.30)
"""Utility shift of bac+2 (half) and bac+3 graduates by region (more in Île-de-France,
Auvergne-Rhône-Alpes, Occitanie; INSEE census)."""
REGION_EFFECT_SEED = 1979
REGION_EFFECT_SD = {"digital": 0.30, "online": 0.90, "satis": 0.45, "gaveup": 0.25,
                    "co_digital": 0.30}
"""Standard deviations (logit scale) of the persistent regional effects: ``digital`` moves
both online use and the online uptake of the administrative services (seen by the
administrative covariates); ``online``, ``satis``, ``gaveup`` are seen by no covariate;
``co_digital`` moves companies' online use and their administrative uptake. On the share
scale they give regions a few points apart, as in the regional breakdowns of the INSEE ICT
household survey."""


def region_effects() -> dict[str, np.ndarray]:
    """Persistent regional effects (logit scale), one array of 13 per name of
    :data:`REGION_EFFECT_SD`: the 13 normal scores Phi^-1((k - 1/2) / 13), k = 1..13, in an
    order drawn from a fixed seed, times the standard deviation. A stratified draw of the
    normal random effect: the regions' effects always spread as a normal sample should (no
    chance cluster of extreme regions), and they are the same every year and every edition
    (a region's character is persistent, not re-drawn with the year)."""
    from scipy.stats import norm

    rng = np.random.default_rng(REGION_EFFECT_SEED)
    scores = norm.ppf((np.arange(len(REGIONS)) + 0.5) / len(REGIONS))
    return {k: sd * scores[rng.permutation(len(REGIONS))]
            for k, sd in REGION_EFFECT_SD.items()}


def headline(name: str, year: int) -> float:
    """The national target ``name`` of :data:`HEADLINES` in ``year`` (linear between the
    years given, constant outside)."""
    path = HEADLINES[name]
    years = sorted(path)
    return float(np.interp(year, years, [path[y] for y in years]))


def trend(year: int, start: float, end: float) -> float:
    """Linear trend from ``start`` in 2014 to ``end`` in 2025 (extrapolated outside)."""
    return start + (end - start) * (year - FIRST) / (LAST - FIRST)


def adults_total(year: int) -> float:
    """Adults 18+ of metropolitan France: ≈50.0 M in 2014 (48.4 M aged 20+ plus the
    18-19-year-olds), growing 0.35% a year."""
    return 50.0e6 * 1.0035 ** (year - FIRST)


def companies_total(year: int) -> float:
    """Private companies: ≈3.7 M in 2014, ≈4.2 M in 2016, ≈4.8 M in 2025 (DOMAIN.md)."""
    return 3.7e6 + (4.8e6 - 3.7e6) * (year - FIRST) / (LAST - FIRST)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def solve_intercept(lin: np.ndarray, target: float, mask: np.ndarray | None = None,
                    weights: np.ndarray | None = None) -> float:
    """The intercept ``a`` such that the (weighted) mean of sigmoid(a + lin) over ``mask``
    equals ``target`` (bisection)."""
    m = np.ones(lin.shape, bool) if mask is None else mask
    w = np.ones(lin.shape) if weights is None else weights
    x, wm = lin[m], w[m]
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.average(sigmoid(mid + x), weights=wm) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def draw_categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category index per row of ``probs`` (n × k, rows summing to 1)."""
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(probs.shape[0])[:, None]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def softmax_draw(rng: np.random.Generator, utilities: np.ndarray) -> np.ndarray:
    """A multinomial-logit draw: one index per row of ``utilities`` (n × k)."""
    e = np.exp(utilities - utilities.max(axis=1, keepdims=True))
    return draw_categorical(rng, e)


def largest_remainder(values: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``values`` that add up exactly to ``total``."""
    v = np.asarray(values, float)
    exact = v / v.sum() * total if v.sum() > 0 else np.zeros_like(v)
    base = np.floor(exact).astype(np.int64)
    rest = int(total - base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:rest]] += 1
    return base


def group_intercepts(lin: np.ndarray, groups: list[tuple[np.ndarray, float]]
                     ) -> np.ndarray:
    """Per unit, the intercept of its group: ``groups`` are (mask, target) pairs with
    disjoint masks, each intercept solved so that the mean of sigmoid(a + lin) over the
    mask is the target (0 outside every mask)."""
    out = np.zeros(lin.shape)
    for mask, target in groups:
        out[mask] = solve_intercept(lin, target, mask)
    return out


def binary(rng: np.random.Generator, lin: np.ndarray, target: float,
           mask: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
    """Bernoulli draws whose population mean over ``mask`` is ≈ ``target``."""
    a = solve_intercept(lin, target, mask, weights)
    return rng.random(lin.shape[0]) < sigmoid(a + lin)


def binary_groups(rng: np.random.Generator, lin: np.ndarray,
                  groups: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """Bernoulli draws whose population mean over each (mask, target) of ``groups`` is ≈
    its target (:func:`group_intercepts`)."""
    return rng.random(lin.shape[0]) < sigmoid(group_intercepts(lin, groups) + lin)


def ordinal4(rng: np.random.Generator, lin: np.ndarray, target_top2: float,
             mask: np.ndarray, weights: np.ndarray | None = None,
             shift: np.ndarray | None = None,
             groups: list[tuple[np.ndarray, float]] | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """A 4-point scale (1 best .. 4 worst) from a logistic latent variable.

    The top two codes (latent > 0) have population share ≈ ``target_top2`` over ``mask``
    (or, with ``groups``, ≈ each group's target over its mask, which then replace ``mask``).
    Returns the codes and the latent value (to correlate other items with it).
    """
    a = (solve_intercept(lin, target_top2, mask, weights) if groups is None
         else group_intercepts(lin, groups))
    u = rng.random(lin.shape[0]).clip(1e-12, 1 - 1e-12)
    latent = a + lin + np.log(u / (1 - u)) + (0 if shift is None else shift)
    code = np.select([latent > 1.6, latent > 0, latent > -1.5], [1, 2, 3], 4)
    return code, latent


def _idx(values: np.ndarray, effects: tuple[float, ...]) -> np.ndarray:
    """Effect per unit: ``effects[values]`` (values are category indices)."""
    return np.asarray(effects, float)[values]


# ------------------------------------------------------------------------- individuals
def individuals_covariates(rng: np.random.Generator, year: int, n: int) -> pd.DataFrame:
    """Adults with sex, age, age band, PCS, region, urban size, education, internet use."""
    age_share = np.array([trend(year, a, b) for a, b in zip(
        (0.105, 0.155, 0.255, 0.250, 0.235), (0.098, 0.146, 0.234, 0.247, 0.275),
        strict=True)])
    women = np.array([0.49, 0.505, 0.51, 0.515, 0.57])
    cell_share = np.concatenate([age_share * women, age_share * (1 - women)])
    cells = np.repeat(np.arange(10), largest_remainder(cell_share, n))
    age_i = cells % 5
    female = cells < 5
    lo = np.array([18, 25, 35, 50, 65])[age_i]
    hi = np.array([24, 34, 49, 64, 95])[age_i]
    span = hi - lo + 1
    age = lo + np.floor(span * rng.random(n) ** np.where(age_i == 4, 1.6, 1.0)).astype(int)
    pcs_by_age = np.array([
        [0.002, 0.01, 0.03, 0.10, 0.17, 0.14, 0.0, 0.548],
        [0.01, 0.04, 0.18, 0.23, 0.24, 0.18, 0.0, 0.12],
        [0.015, 0.07, 0.20, 0.22, 0.22, 0.18, 0.005, 0.09],
        [0.02, 0.07, 0.15, 0.17, 0.18, 0.15, 0.17, 0.09],
        [0.003, 0.01, 0.01, 0.01, 0.005, 0.005, 0.90, 0.057]])
    sex_tilt = np.where(female[:, None], [1, 0.8, 0.8, 1.1, 1.6, 0.45, 1, 1.2],
                        [1, 1.2, 1.2, 0.9, 0.5, 1.5, 1, 0.8])
    pcs_i = draw_categorical(rng, pcs_by_age[age_i] * sex_tilt)
    older = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])[age_i]
    region_p = (np.array(REGION_ADULTS_2014, float)[None, :]
                * np.exp(np.outer(older, REGION_OLDER)))
    region_i = draw_categorical(rng, region_p)
    urban_base = np.array([0.27, 0.20, 0.15, 0.38, 0.0])
    urban_p = np.tile(urban_base, (n, 1))
    urban_p[region_i == 0] = [0.05, 0.04, 0.02, 0.0, 0.89]
    urban_p[region_i == 12] = [0.45, 0.15, 0.40, 0.0, 0.0]
    urban_i = draw_categorical(rng, urban_p)
    edu_by_age = np.log(np.array([
        [0.25, 0.45, 0.15, 0.15], [0.25, 0.22, 0.18, 0.35], [0.38, 0.20, 0.17, 0.25],
        [0.55, 0.17, 0.12, 0.16], [0.72, 0.12, 0.07, 0.09]]))
    edu_by_pcs = np.array([
        [0.5, 0.2, 0, -0.8], [0.2, 0.2, 0.2, -0.2], [-2.0, -0.8, 0, 1.5], [-0.7, 0, 0.6, 0.4],
        [0.3, 0.2, 0, -0.6], [0.9, 0, -0.8, -1.8], [0, 0, 0, 0], [0, 0, 0, 0]])
    edu_trend = np.array([0, 0, 0.01, 0.03]) * (year - FIRST)
    edu_region = np.outer(np.asarray(REGION_DEGREE)[region_i], [0, 0, 0.5, 1.0])
    edu_i = softmax_draw(rng, edu_by_age[age_i] + edu_by_pcs[pcs_i] + edu_trend + edu_region)
    u = rng.random(n).clip(1e-12, 1 - 1e-12)
    net = (-0.6 + 0.14 * (year - FIRST) + _idx(age_i, (2.6, 2.4, 1.8, 0.9, -0.6))
           + _idx(edu_i, (-0.7, 0, 0.5, 0.9)) + np.log(u / (1 - u)))
    net_i = np.select([net > 0, net > -1.3, net > -2.6], [0, 1, 2], 3)
    return pd.DataFrame({
        "sex": np.where(female, "F", "M"), "age": age,
        "age_band": np.asarray(AGE_BANDS)[age_i], "pcs": np.asarray(PCS)[pcs_i],
        "region": np.asarray(REGIONS)[region_i], "urban_size": np.asarray(URBAN)[urban_i],
        "education": np.asarray(EDUCATION)[edu_i], "internet_use": np.asarray(INTERNET)[net_i],
        "_age": age_i, "_edu": edu_i, "_net": net_i, "_pcs": pcs_i, "_region": region_i,
    })


def individuals_items(rng: np.random.Generator, year: int, pop: pd.DataFrame,
                      service_shares: dict[str, float]) -> dict[str, np.ndarray]:
    """True answers of adults to every individuals item (substantive codes only).

    ``service_shares`` gives, for the linked services (``svc_tax``, ``svc_vehicle``,
    ``svc_address``), the online share among users that year (from the admin trends).
    """
    n = len(pop)
    a_i, e_i, i_i = (pop[c].to_numpy() for c in ("_age", "_edu", "_net"))
    r_i = pop["_region"].to_numpy()
    reg = {k: v[r_i] for k, v in region_effects().items()}
    t = year - FIRST
    out: dict[str, np.ndarray] = {}
    lin = (_idx(a_i, (0.3, 0.5, 0.4, 0.1, -0.5)) + _idx(e_i, (-0.3, 0, 0.2, 0.3))
           + _idx(i_i, (0.3, 0, -0.4, -0.9)))
    proc = binary(rng, lin, headline("proc", year))
    out["proc"] = np.where(proc, 1, 2)
    lin = (_idx(a_i, (0.9, 0.8, 0.4, -0.2, -1.2)) + _idx(e_i, (-0.6, 0, 0.4, 0.8))
           + _idx(i_i, (1.0, -0.3, -1.6, -5.0)) + reg["digital"] + reg["online"])
    bump = 0.015 if year in (2020, 2021) else 0.0
    online = binary(rng, lin, headline("online", year) + bump, proc) & proc
    fully = binary(rng, _idx(i_i, (0.5, 0, -0.5, -1.0)), trend(year, 0.60, 0.72), online)
    out["online"] = np.where(online, np.where(fully, 1, 2), 3)
    lin_s = (_idx(i_i, (0.6, 0, -0.8, -1.2)) + _idx(a_i, (0.3, 0.2, 0, -0.2, -0.4))
             + reg["satis"])
    out["satis"], latent = ordinal4(rng, lin_s, headline("satis", year), online)
    sat_dev = latent - latent[online].mean() if online.any() else latent
    out["ease"], _ = ordinal4(rng, _idx(e_i, (-0.4, 0, 0.2, 0.4)) + 0.5 * sat_dev,
                              trend(year, 0.78, 0.86), online)
    satisfied = out["satis"] <= 2
    gave = binary(rng, -1.0 * satisfied + _idx(i_i, (0, 0.2, 0.5, 0.8)) + reg["gaveup"],
                  trend(year, 0.35, 0.27), online)
    out["gaveup"] = np.where(gave, 1, 2)
    unhappy = 1.0 * ~satisfied
    base = {"diff_info": 0.30, "diff_malfunction": 0.20, "diff_attach": 0.18,
            "diff_followup": 0.22}
    for name, p in base.items():
        lp = np.log(p / (1 - p)) + unhappy
        out[name] = np.where(rng.random(n) < sigmoid(lp), 1, 0)
    pm = trend(year, 0.08, 0.22)
    out["diff_mobile"] = np.where(
        rng.random(n) < sigmoid(np.log(pm / (1 - pm)) + unhappy
                                + _idx(a_i, (0.8, 0.5, 0, -0.5, -1.0))), 1, 0)
    helps = {"help_relative": (0.22, (-0.2, -0.3, -0.2, 0.2, 0.8), (-0.6, 0, 0.8, 1.6)),
             "help_assoc": (0.03, (0.3, 0, 0, 0, 0.3), (0, 0, 0.5, 1.0)),
             "help_agent": (0.15, (0, 0, 0, 0.1, 0.4), (-0.2, 0, 0.3, 0.8)),
             "help_internet": (0.20, (0.6, 0.4, 0, -0.4, -1.0), (0.5, 0, -1.0, -3.0))}
    anyhelp = np.zeros(n, bool)
    for name, (p, age_eff, net_eff) in helps.items():
        lp = np.log(p / (1 - p)) + _idx(a_i, age_eff) + _idx(i_i, net_eff)
        flag = rng.random(n) < sigmoid(lp)
        anyhelp |= flag
        out[name] = np.where(flag, 1, 0)
    out["help_none"] = np.where(anyhelp, 0, 1)
    util = np.column_stack([
        0.3 + 0.07 * t + _idx(i_i, (1.5, 0.5, -1.0, -4.0)) + _idx(a_i, (0.5, 0.5, 0.3, 0, -0.6)),
        np.zeros(n),
        _idx(a_i, (-0.3, -0.2, 0, 0.2, 0.6)),
        -0.8 + _idx(a_i, (-0.5, -0.3, 0, 0.2, 0.4))])
    out["pref_channel"] = softmax_draw(rng, util) + 1
    util = np.column_stack([
        0.05 * t + _idx(i_i, (1.0, 0.3, -0.6, -1.5)),
        -1.2 + _idx(i_i, (0, 0, 0.6, 1.2)) + _idx(a_i, (0, 0, 0, 0.2, 0.5)),
        np.zeros(n)])
    out["relations"] = softmax_draw(rng, util) + 1
    incidence = {"svc_tax": (0.80, (-1.5, 0.2, 0.5, 0.5, 0.6)),
                 "svc_vehicle": (0.15, (0.1, 0.3, 0.3, 0.1, -0.5)),
                 "svc_address": (0.10, (0.9, 0.8, 0.1, -0.4, -1.2))}
    for name, (p, age_eff) in incidence.items():
        used = binary(rng, _idx(a_i, age_eff), p)
        lin = (_idx(a_i, (0.6, 0.6, 0.3, -0.2, -1.0)) + _idx(e_i, (-0.5, 0, 0.3, 0.6))
               + _idx(i_i, (1.0, -0.2, -1.5, -5.0)) + reg["digital"])
        on = binary(rng, lin, service_shares[name], used)
        out[name] = np.where(used, np.where(on, 1, 2), 3)
    return out


# --------------------------------------------------------------------------- companies
def companies_covariates(rng: np.random.Generator, year: int, n: int) -> pd.DataFrame:
    """Companies with size band, sector, region and number of employees."""
    size_share = np.array([trend(year, a, b) for a, b in zip(
        (0.620, 0.320, 0.048, 0.0095, 0.0025), (0.680, 0.270, 0.040, 0.0078, 0.0022),
        strict=True)])
    size_i = np.repeat(np.arange(5), largest_remainder(size_share, n))
    sector_by_size = np.array([
        [0.06, 0.12, 0.20, 0.62], [0.10, 0.16, 0.24, 0.50], [0.18, 0.17, 0.22, 0.43],
        [0.25, 0.10, 0.18, 0.47], [0.30, 0.05, 0.15, 0.50]])
    sector_i = draw_categorical(rng, sector_by_size[size_i])
    reg = np.array(REGION_ADULTS_2014, float) / sum(REGION_ADULTS_2014)
    reg_p = np.tile(reg, (n, 1))
    idf = np.array([0.22, 0.21, 0.24, 0.28, 0.36])[size_i]
    reg_p[:, 1:] *= ((1 - idf) / (1 - reg[0]))[:, None]
    reg_p[:, 0] = idf
    region_i = draw_categorical(rng, reg_p)
    u = rng.random(n)
    emp = np.zeros(n, np.int64)
    k = np.arange(1, 10)
    p19 = 0.72 ** k / (0.72 ** k).sum()
    emp = np.where(size_i == 1, 1 + (u[:, None] > np.cumsum(p19)).sum(1), emp)
    k10 = np.floor(-np.log1p(-u * (1 - 0.94 ** 40)) / -np.log(0.94))
    k50 = np.floor(-np.log1p(-u * (1 - 0.985 ** 200)) / -np.log(0.985))
    emp = np.where(size_i == 2, 10 + np.minimum(k10, 39), emp)
    emp = np.where(size_i == 3, 50 + np.minimum(k50, 199), emp)
    big = np.minimum(250 * np.exp(rng.exponential(0.7, n)), 150_000)
    emp = np.where(size_i == 4, np.floor(big), emp).astype(np.int64)
    return pd.DataFrame({
        "size_band": np.asarray(SIZE_BANDS)[size_i], "sector": np.asarray(SECTORS)[sector_i],
        "region": np.asarray(REGIONS)[region_i], "employees": emp,
        "size_10plus": np.where(size_i >= 2, "10+", "<10"),
        "_size": size_i, "_sector": sector_i, "_region": region_i,
    })


def companies_items(rng: np.random.Generator, year: int, pop: pd.DataFrame,
                    service_shares: dict[str, float]) -> dict[str, np.ndarray]:
    """True answers of companies to every companies item (substantive codes only)."""
    n = len(pop)
    s_i, c_i = pop["_size"].to_numpy(), pop["_sector"].to_numpy()
    co_digital = region_effects()["co_digital"][pop["_region"].to_numpy()]
    big = s_i >= 2
    t = year - FIRST
    out: dict[str, np.ndarray] = {}
    proc = binary(rng, _idx(s_i, (0, 0.8, 1.8, 2.6, 3.5)) + _idx(c_i, (0.1, 0, 0, 0)),
                  trend(year, 0.70, 0.80))
    out["proc"] = np.where(proc, 1, 2)
    lin = _idx(s_i, (0, 0.25, 0, 0.5, 1.1)) + _idx(c_i, (0.2, -0.3, 0, 0.1)) + co_digital
    online = binary_groups(rng, lin, [(proc & ~big, headline("co_online_small", year)),
                                      (proc & big, headline("co_online_10plus", year))]) & proc
    fully = binary(rng, _idx(s_i, (0, 0.2, 0.6, 0.8, 1.0)), trend(year, 0.55, 0.72), online)
    out["online"] = np.where(online, np.where(fully, 1, 2), 3)
    out["satis"], latent = ordinal4(
        rng, _idx(s_i, (0, 0.1, 0, 0.2, 0.4)), 0.0, online,
        groups=[(online & ~big, headline("co_satis_small", year)),
                (online & big, headline("co_satis_10plus", year))])
    sat_dev = latent - latent[online].mean() if online.any() else latent
    out["ease"], _ = ordinal4(rng, _idx(s_i, (0, 0.1, 0.6, 0.8, 1.0)) + 0.5 * sat_dev,
                              trend(year, 0.75, 0.85), online)
    satisfied = out["satis"] <= 2
    gave = binary(rng, -1.0 * satisfied + _idx(s_i, (0.2, 0.1, 0, -0.2, -0.3)),
                  trend(year, 0.30, 0.22), online)
    out["gaveup"] = np.where(gave, 1, 2)
    unhappy = 1.0 * ~satisfied
    for name, p in {"diff_info": 0.28, "diff_malfunction": 0.22, "diff_attach": 0.20,
                    "diff_followup": 0.18}.items():
        out[name] = np.where(rng.random(n) < sigmoid(np.log(p / (1 - p)) + unhappy), 1, 0)
    anyhelp = np.zeros(n, bool)
    for name, (p, size_eff) in {"help_accountant": (0.45, (0.3, 0.2, -0.3, -1.0, -1.5)),
                                "help_agent": (0.10, (0.1, 0.1, 0, -0.2, -0.4))}.items():
        flag = rng.random(n) < sigmoid(np.log(p / (1 - p)) + _idx(s_i, size_eff))
        anyhelp |= flag
        out[name] = np.where(flag, 1, 0)
    out["help_none"] = np.where(anyhelp, 0, 1)
    util = np.column_stack([0.8 + 0.08 * t + _idx(s_i, (0, 0.3, 1.0, 1.4, 1.8)),
                            np.zeros(n), -0.8 + _idx(s_i, (0.3, 0.2, 0, -0.3, -0.5)),
                            -0.4 + _idx(s_i, (0.2, 0.2, 0, -0.3, -0.5))])
    out["pref_channel"] = softmax_draw(rng, util) + 1
    lin = _idx(s_i, (0, 0.25, 1.1, 1.3, 1.5))
    # P(easier) = sigmoid(a + lin - log(e^-1.4 + e^0.35)) under the multinomial logit
    others = np.log(np.exp(-1.4) + np.exp(0.35))
    util = np.column_stack([lin + solve_intercept(lin - others, headline("co_easier", year)),
                            np.full(n, -1.4), np.full(n, 0.35)])
    out["relations"] = softmax_draw(rng, util) + 1
    for name, p_use, use_eff, on_eff in (
            ("svc_dpae", 0.45, (-9.0, 0, 1.5, 3.0, 5.0), (0, 0, 0.8, 1.5, 2.5)),
            ("svc_vat", 0.85, (-0.4, 0.3, 1.5, 2.5, 3.0), (0, 0.3, 1.0, 1.5, 2.0))):
        eligible = s_i >= 1 if name == "svc_dpae" else np.ones(n, bool)
        used = binary(rng, _idx(s_i, use_eff), p_use, eligible) & eligible
        on = binary(rng, _idx(s_i, on_eff) + co_digital, service_shares[name], used)
        out[name] = np.where(used, np.where(on, 1, 2), 3)
    return out


# ---------------------------------------------------------------- nonresponse and truth
def apply_missing(rng: np.random.Generator, pop: pd.DataFrame, answers: dict[str, np.ndarray],
                  codebook: Codebook, population: str, older: np.ndarray) -> pd.DataFrame:
    """Add item nonresponse (98 don't know, 99 refused; more often where ``older``) and
    code 97 (not asked) outside each item's filter; return the population frame."""
    n = len(pop)
    miss = codebook.missing_codes
    frame = pop.copy()
    group_draw: dict[str, np.ndarray] = {}
    for item in codebook.items_for(population):
        code = answers[item.id].astype(np.int64)
        key = item.group or item.id
        if key not in group_draw:
            u = rng.random(n)
            p_dk = 0.012 + 0.02 * older + (0.01 if item.id.startswith("svc") else 0.0)
            group_draw[key] = np.select([u < p_dk, u < p_dk + 0.004],
                                        [miss["dont_know"], miss["refused"]], 0)
        code = np.where(group_draw[key] > 0, group_draw[key], code)
        frame[item.id] = code
        eligible = codebook.eligible(frame, population, item.id)
        frame[item.id] = np.where(eligible, code, miss["not_asked"])
    return frame


def truth_table(frame: pd.DataFrame, codebook: Codebook, population: str,
                weightings: dict[str, np.ndarray], domains: list[str]) -> pd.DataFrame:
    """True shares of every item × code, overall and by each domain variable.

    Share = weighted count answering ``code`` / weighted count eligible with a
    substantive (non-missing) answer; ``n_eligible`` is that denominator, rounded.
    Categories with no eligible unit (zero denominator) are left out.
    """
    n = len(frame)
    dom_index: dict[str, tuple[list[str], np.ndarray]] = {"all": (["all"], np.zeros(n, int))}
    for dom in domains:
        cats = _domain_order(codebook, dom, frame)
        idx = pd.Categorical(frame[dom].astype(str), categories=cats).codes.astype(int)
        dom_index[dom] = (cats, idx)
    parts = []
    for item in codebook.items_for(population):
        code = frame[item.id].to_numpy()
        codes = np.asarray(item.codes)
        k = len(codes)
        pos = np.full(n, -1)
        for j, c in enumerate(codes):
            pos[code == c] = j
        ok = pos >= 0
        for wname, w in weightings.items():
            for dom, (cats, idx) in dom_index.items():
                m = len(cats)
                cell = idx[ok] * k + pos[ok]
                num = np.bincount(cell, weights=w[ok], minlength=m * k).reshape(m, k)
                den = num.sum(axis=1)
                keep = den > 0
                share = num[keep] / den[keep, None]
                kept = [c for c, kp in zip(cats, keep, strict=True) if kp]
                parts.append(pd.DataFrame({
                    "population": population, "weighting": wname, "item": item.id,
                    "code": np.tile(codes, len(kept)), "domain": dom,
                    "category": np.repeat(kept, k), "share": share.ravel(),
                    "n_eligible": np.repeat(np.round(den[keep]).astype(np.int64), k)}))
    return pd.concat(parts, ignore_index=True)


def _domain_order(codebook: Codebook, dom: str, frame: pd.DataFrame) -> list[str]:
    """Categories of a domain in codebook order (``size_10plus``: ``<10`` then ``10+``)."""
    if dom == "all":
        return ["all"]
    if dom == "size_10plus":
        return ["<10", "10+"]
    return list(codebook.variable(dom).codes)

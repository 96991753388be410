"""Synthetic editions: deterministic bytes, shipped files equal a regeneration, the truth
file is coherent, published trends hold, and unweighted estimates are visibly biased."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from barometer.scoreboard.load import available_years, default_data_dir, load_edition, load_truth
from barometer.synthetic.editions import SAV_STAMP, parse_years, synthesize

REGEN_YEARS = (2016, 2025)  # one CSV year and the SPSS year


def _bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    a = tmp_path_factory.mktemp("a")
    b = tmp_path_factory.mktemp("b")
    synthesize(a, REGEN_YEARS)
    synthesize(b, REGEN_YEARS)
    return a, b


def test_same_seed_same_bytes(regenerated: tuple[Path, Path]) -> None:
    a, b = regenerated
    assert _bytes(a) == _bytes(b)
    assert (a / "2025" / "individuals.sav").read_bytes()[92:92 + len(SAV_STAMP)] == SAV_STAMP


def test_shipped_files_equal_a_regeneration(regenerated: tuple[Path, Path]) -> None:
    a, _ = regenerated
    shipped = default_data_dir()
    got = _bytes(a)
    for rel, data in got.items():
        assert (shipped / rel).read_bytes() == data, f"{rel} differs from a regeneration"
    for year in REGEN_YEARS:
        assert sorted(p.name for p in (shipped / str(year)).iterdir()) == sorted(
            Path(r).name for r in got if r.startswith(f"{year}/"))


def test_other_seed_differs(tmp_path: Path) -> None:
    synthesize(tmp_path / "x", [2016], seed=1, n_adults=20_000, n_companies=20_000)
    synthesize(tmp_path / "y", [2016], seed=2, n_adults=20_000, n_companies=20_000)
    x = (tmp_path / "x" / "2016" / "individuals.csv").read_bytes()
    y = (tmp_path / "y" / "2016" / "individuals.csv").read_bytes()
    assert x != y


def test_parse_years() -> None:
    assert parse_years("2014-2016") == [2014, 2015, 2016]
    assert parse_years("2016,2020") == [2016, 2020]
    assert parse_years("2025") == [2025]


@pytest.fixture(scope="module")
def truths() -> dict[int, pd.DataFrame]:
    return {y: load_truth(y) for y in available_years()}


def _share(t: pd.DataFrame, pop: str, item: str, codes: list[int], *, domain: str = "all",
           category: str = "all", weighting: str | None = None) -> float:
    w = weighting or ("persons" if pop == "individuals" else "companies")
    sel = t[(t.population == pop) & (t.weighting == w) & (t["item"] == item)
            & (t.domain == domain) & (t.category == category) & t.code.isin(codes)]
    return float(sel.share.sum())


def test_truth_is_coherent(truths: dict[int, pd.DataFrame]) -> None:
    t = truths[2016]
    sums = t.groupby(["population", "weighting", "item", "domain", "category"]).share.sum()
    assert np.allclose(sums, 1.0)
    assert set(t.weighting) == {"persons", "companies", "employees"}
    assert {"size_10plus", "size_band", "sector", "region"} <= set(
        t.loc[t.population == "companies", "domain"])
    assert {"sex", "age_band", "pcs", "region", "urban_size", "education",
            "internet_use"} <= set(t.loc[t.population == "individuals", "domain"])
    # the denominator of an unfiltered item is the whole population less nonresponse
    ed = load_edition(2016)
    n = t[(t["item"] == "proc") & (t.domain == "all") & (t.weighting == "persons")]
    assert 0.95 * ed.margins["individuals"].total < n.n_eligible.iloc[0] < ed.margins[
        "individuals"].total


def test_published_trends_and_gradients(truths: dict[int, pd.DataFrame]) -> None:
    online = {y: _share(t, "individuals", "online", [1, 2]) * _share(t, "individuals", "proc",
                                                                      [1]) for y, t in
              truths.items()}
    # DOMAIN.md: the real scoreboard's 2016 figures and their changes on 2015
    assert online[2016] == pytest.approx(0.28, abs=0.01)
    assert online[2015] == pytest.approx(0.26, abs=0.01)
    assert 0.45 < online[2025] < 0.56
    assert all(online[y + 1] > online[y] - 0.01 for y in range(2014, 2025))
    t16 = truths[2016]
    assert _share(t16, "individuals", "proc", [1]) == pytest.approx(0.37, abs=0.01)
    assert _share(t16, "individuals", "online", [1, 2]) == pytest.approx(0.75, abs=0.015)
    assert _share(t16, "individuals", "satis", [1, 2]) == pytest.approx(0.90, abs=0.01)
    co = {(item, cat): _share(t16, "companies", item, [1, 2], domain="size_10plus",
                              category=cat) for item in ("online", "satis") for cat in
          ("<10", "10+")}
    assert co["online", "10+"] == pytest.approx(0.74, abs=0.02)
    assert co["satis", "10+"] == pytest.approx(0.95, abs=0.02)
    assert co["satis", "<10"] == pytest.approx(0.78, abs=0.02)
    t15 = truths[2015]
    assert _share(t15, "companies", "satis", [1, 2], domain="size_10plus",
                  category="<10") == pytest.approx(0.89, abs=0.02)  # -11 pts in 2016
    for y, t in truths.items():
        sat = _share(t, "individuals", "satis", [1, 2])
        assert 0.86 < sat < 0.94, (y, sat)
        young = _share(t, "individuals", "online", [1, 2], domain="age_band",
                       category="18-24")
        old = _share(t, "individuals", "online", [1, 2], domain="age_band", category="65+")
        assert young - old > 0.2
        low = _share(t, "individuals", "online", [1, 2], domain="education",
                     category="below_bac")
        high = _share(t, "individuals", "online", [1, 2], domain="education",
                      category="bac+3")
        assert high > low
        small = _share(t, "companies", "online", [1, 2], domain="size_10plus", category="<10")
        large = _share(t, "companies", "online", [1, 2], domain="size_10plus", category="10+")
        assert large > small
        emp = _share(t, "companies", "online", [1, 2], weighting="employees")
        assert emp > _share(t, "companies", "online", [1, 2])


def test_unweighted_estimates_are_biased(truths: dict[int, pd.DataFrame]) -> None:
    """The unweighted share online (among those who did a procedure: ≈300-500 answers a year,
    37-58% of adults doing one) is always below the truth, by more than 2 standard errors in
    half the years and overwhelmingly over the 12 years (pooled z < -6): the telephone
    sample needs weighting."""
    biased = 0
    zs = []
    for year, t in truths.items():
        ind = load_edition(year).individuals
        x = ind.loc[ind["online"].isin([1, 2, 3]), "online"].isin([1, 2])
        p, n = x.mean(), len(x)
        se = np.sqrt(p * (1 - p) / n)
        truth = _share(t, "individuals", "online", [1, 2])
        assert p < truth  # the less digital answer more: always downward
        biased += abs(p - truth) > 2 * se
        zs.append((p - truth) / se)
    assert biased >= 6, f"only {biased} of 12 years visibly biased"
    assert sum(zs) / np.sqrt(len(zs)) < -6


def test_companies_design_weights_correct_size_bias(truths: dict[int, pd.DataFrame]) -> None:
    for year in (2016, 2025):
        c = load_edition(year).companies
        ok = c["online"].isin([1, 2, 3])
        x = c.loc[ok, "online"].isin([1, 2]).to_numpy()
        truth = _share(truths[year], "companies", "online", [1, 2])
        raw = x.mean()
        weighted = np.average(x, weights=c.loc[ok, "design_weight"])
        assert abs(raw - truth) > abs(weighted - truth)
        ed = load_edition(year)
        by_band = c.groupby("size_band")["design_weight"].first()
        assert by_band["0"] > 100 * by_band["250+"]
        assert c.design_weight.sum() == pytest.approx(ed.margins["companies"].total, rel=1e-6)


def test_admin_defects_are_planted() -> None:
    assert load_edition(2025).warnings[0].value == "customs_payment"
    a21 = load_edition(2021).admin_counts
    revised = a21.loc[a21.revised, "service_id"].unique().tolist()
    assert revised == ["housing_benefit"]
    a16 = load_edition(2016).admin_counts
    tax = a16[a16.service_id == "income_tax_return"].set_index("channel")["count"]
    assert 0.40 < tax["online"] / tax.sum() < 0.47

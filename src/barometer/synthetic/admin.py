"""Synthetic administrative counts: service × year × channel, with realistic defects.

For each service of the catalogue, a yearly volume and an online share following the
published figures of DOMAIN.md where they exist (income-tax returns 36% in 2014, 40.2% in
2015, > 20 M in 2017; DPAE 87% → 98%; criminal-record extracts 96%; civil-status records
abroad 90%; social contributions 90%; customs payments 68% in 2016; student grants and
farm aid online-only from 2016), otherwise a logistic path from a 2012 share to a 2016
share, slowing afterwards. The offline remainder is split between mail, counter and phone
by a fixed mix per service. Volumes of the services linked to a survey item come from the
synthetic population (so survey and counts agree in order of magnitude).

Defects planted on purpose: the supplier of ``customs_payment`` is late for the latest
year (no row -> a warning at load), and ``housing_benefit`` 2021 comes in two vintages:
a first supply (received in February 2022) and a revised one (``revised = 1``, received on
30 June 2022; online +3.5%, mail -6%, counter +4% against the first supply), both kept in
the year's file. A channel a supplier does not report (a zero in the service's offline mix)
has no row (missing, never 0); an online-only service (``student_grant`` and ``farm_aid``
from 2016, ``vehicle_registration`` from 2018) has only its online row.

Targets (:func:`targets`, written to ``targets.csv``): none before the 2016 plan; the
2016 plan's targets (``target_2016`` of the catalogue) for 2016-2018, raised by 15 points
(at most 95%) by the 2019 plan for 2019-2022, and by 10 more points (at most 97%) by the
2023 plan: with uptake slowing after 2016, several services miss them. An online-only
service has no target (``online_only = 1``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from barometer.synthetic.population import largest_remainder, sigmoid

LATE_SERVICE, LATE_YEAR = "customs_payment", 2025
REVISED_SERVICE, REVISED_YEAR = "housing_benefit", 2021
FIRST_VINTAGE = {"online": 1 / 1.035, "mail": 1 / 0.94, "counter": 1 / 1.04, "phone": 1.0}
"""The first supply of the revised counts, as a factor of the revised count per channel."""
PLANS = ((2016, 0.0, 1.0, "Plan de transformation numérique 2016 (synthetic)", "2016-03-01"),
         (2019, 0.15, 0.95, "Programme Action publique 2022 (synthetic)", "2019-02-15"),
         (2023, 0.25, 0.97, "Plan France numérique 2027 (synthetic)", "2023-01-20"))
"""Target plans: first year, points added to the 2016 target, cap, source, date."""

# service_id: (volume 2016, share 2012, share 2016, online-only from (0 = never),
#              offline mix (mail, counter, phone), supplier, counting unit, coverage)
SERVICES: dict[str, tuple[float, float, float, int, tuple[float, float, float], str, str,
                          str]] = {
    "income_tax_return": (36.8e6, 0.33, 0.435, 0, (0.85, 0.15, 0.0), "DGFiP",
                          "tax return (tax household)", "all tax households"),
    "income_tax_payment": (25e6, 0.45, 0.62, 0, (0.7, 0.3, 0.0), "DGFiP", "payment",
                           "payments by tax households"),
    "local_tax_payment": (30e6, 0.35, 0.52, 0, (0.7, 0.3, 0.0), "DGFiP", "payment",
                          "housing- and property-tax payments"),
    "student_grant": (0.70e6, 0.02, 0.999, 2016, (0.9, 0.1, 0.0), "Cnous", "application file",
                      "students applying for a grant or university housing"),
    "criminal_record": (3.5e6, 0.75, 0.96, 0, (0.9, 0.1, 0.0), "Casier judiciaire national",
                        "request", "all requesters, national"),
    "civil_status_abroad": (1.6e6, 0.60, 0.90, 0, (0.95, 0.05, 0.0),
                            "Service central d'état civil", "request", "events abroad"),
    "change_of_address": (1.2e6, 0.25, 0.45, 0, (0.6, 0.3, 0.1), "DILA (service-public.fr)",
                          "notification", "movers notifying several bodies at once"),
    "electoral_roll": (1.5e6, 0.05, 0.18, 0, (0.3, 0.7, 0.0), "Ministère de l'Intérieur",
                       "registration", "municipalities connected to the online service"),
    "vehicle_registration": (11e6, 0.10, 0.45, 2018, (0.5, 0.5, 0.0), "ANTS", "request",
                             "all registration requests incl. partner garages (counted "
                             "online)"),
    "housing_benefit": (1.5e6, 0.30, 0.62, 0, (0.6, 0.3, 0.1), "Cnaf", "claim",
                        "new housing-benefit claims"),
    "jobseeker_registration": (5.5e6, 0.55, 0.92, 0, (0.1, 0.6, 0.3), "Pôle emploi",
                               "registration", "registrations and re-registrations"),
    "pension_claim": (0.7e6, 0.05, 0.25, 0, (0.6, 0.4, 0.0), "Cnav", "claim",
                      "general-scheme pension claims"),
    "health_rights_certificate": (8e6, 0.40, 0.68, 0, (0.2, 0.5, 0.3), "Cnamts",
                                  "certificate issued", "general health-insurance scheme"),
    "european_health_card": (2.5e6, 0.45, 0.70, 0, (0.3, 0.4, 0.3), "Cnamts", "request",
                             "general health-insurance scheme"),
    "hunting_licence": (1.0e6, 0.25, 0.48, 0, (0.8, 0.2, 0.0), "ONCFS", "validation",
                        "annual validations"),
    "passport_preapplication": (3.5e6, 0.02, 0.25, 0, (0.0, 1.0, 0.0), "ANTS",
                                "application", "passport applications in town halls"),
    "activity_bonus": (2.5e6, 0.60, 0.80, 0, (0.8, 0.2, 0.0), "Cnaf", "claim",
                       "claims to the activity bonus (created 2016)"),
    "driving_test_registration": (1.2e6, 0.05, 0.35, 0, (0.7, 0.3, 0.0), "ANTS",
                                  "registration", "candidates registered by driving schools "
                                  "or themselves"),
    "company_vat": (30e6, 0.75, 0.93, 0, (0.9, 0.1, 0.0), "DGFiP", "return with payment",
                    "companies liable to VAT"),
    "corporate_tax_payment": (2.0e6, 0.80, 0.95, 0, (0.9, 0.1, 0.0), "DGFiP", "payment",
                              "companies liable to corporate tax"),
    "dpae": (22e6, 0.87, 0.98, 0, (0.95, 0.0, 0.05), "Acoss-Urssaf", "declaration",
             "all private employers, national"),
    "social_contributions": (30e6, 0.70, 0.90, 0, (0.9, 0.1, 0.0), "Acoss-Urssaf",
                             "payment", "employers and self-employed"),
    "customs_payment": (5e6, 0.45, 0.68, 0, (0.6, 0.4, 0.0), "DGDDI", "payment",
                        "customs duties and taxes"),
    "customs_declaration": (20e6, 0.90, 0.98, 0, (0.2, 0.8, 0.0), "DGDDI", "declaration",
                            "import and export declarations"),
    "farm_aid": (0.37e6, 0.80, 0.999, 2016, (0.8, 0.2, 0.0), "ASP", "declaration",
                 "CAP aid applications by farms"),
    "company_creation": (0.55e6, 0.25, 0.55, 0, (0.5, 0.5, 0.0), "INPI (guichet entreprises)",
                         "creation file", "company creations, all legal forms"),
    "public_procurement": (0.30e6, 0.15, 0.40, 0, (0.9, 0.1, 0.0), "DAJ",
                           "bid", "bids to state procurement"),
    "sick_pay_certificate": (10e6, 0.45, 0.70, 0, (0.9, 0.0, 0.1), "Cnamts",
                             "certificate", "employers, general scheme"),
    "nominative_social_declaration": (20e6, 0.60, 0.92, 0, (1.0, 0.0, 0.0), "GIP-MDS",
                                      "monthly declaration", "private employers"),
    "apprenticeship_contract": (0.28e6, 0.10, 0.35, 0, (0.8, 0.2, 0.0), "DGEFP",
                                "contract", "apprenticeship contracts registered"),
}

TAX_SHARES = {2014: 0.36, 2015: 0.402, 2016: 0.435, 2017: 0.55, 2018: 0.62, 2019: 0.66,
              2020: 0.70, 2021: 0.72, 2022: 0.74, 2023: 0.75, 2024: 0.76, 2025: 0.77}
"""Income-tax returns filed online (DOMAIN.md to 2017, then a smooth continuation)."""

ONLINE_DEFINITION = "website, app or EDI (a downloaded form sent by post is mail)"


def _logit(p: float) -> float:
    """log(p / (1 - p))."""
    return float(np.log(p / (1 - p)))


def online_share(service_id: str, year: int) -> float:
    """The expected online share of a service in a year (before noise)."""
    if service_id == "income_tax_return":
        return TAX_SHARES.get(year, 0.77)
    _, s12, s16, only_from, *_ = SERVICES[service_id]
    if only_from and year >= only_from:
        return 1.0
    slope = (_logit(s16) - _logit(s12)) / 4
    steps = year - 2012 if year <= 2016 else 4 + 0.5 * (year - 2016)
    return min(float(sigmoid(np.array(_logit(s12) + slope * steps))), 0.995)


def admin_counts(rng: np.random.Generator, year: int, services: pd.DataFrame,
                 volumes: dict[str, float]) -> pd.DataFrame:
    """Counts per service × channel for ``year`` (services with ``first_year <= year``).

    ``volumes`` overrides the yearly volume of some services (those linked to the
    population). Applies the late-supplier and revised-count defects.
    """
    rows = []
    in_scope = services.loc[services["first_year"].astype(int) <= year, "service_id"]
    noise = rng.normal(0.0, 0.02, size=(len(SERVICES), 2))
    for k, sid in enumerate(SERVICES):
        if sid not in set(in_scope) or (sid == LATE_SERVICE and year == LATE_YEAR):
            continue
        vol16, _, _, _, mix, supplier, unit, coverage = SERVICES[sid]
        volume = volumes.get(sid, vol16 * 1.01 ** (year - 2016)) * np.exp(noise[k, 0])
        share = online_share(sid, year)
        if 0 < share < 1:
            share = float(sigmoid(np.array(_logit(share) + noise[k, 1])))
        total = round(volume)
        online = round(total * share)
        offline = largest_remainder(np.array(mix), total - online) if total > online else [0] * 3
        revised = sid == REVISED_SERVICE and year == REVISED_YEAR
        received = pd.Timestamp(year + 1, 2, 1) + pd.Timedelta(days=int(7 * (k % 9)))
        online_only = share >= 1.0
        channels = [(ch, n) for ch, n, m in zip(("online", "mail", "counter", "phone"),
                                                (online, *offline), (1.0, *mix), strict=True)
                    if m > 0 and not (online_only and ch != "online")]
        base = {"service_id": sid, "year": year, "supplier": supplier, "counting_unit": unit,
                "online_definition": ONLINE_DEFINITION, "coverage": coverage}
        if revised:  # the first supply, then the revision received later
            for channel, count in channels:
                rows.append({**base, "channel": channel,
                             "count": round(count * FIRST_VINTAGE[channel]),
                             "date_received": received.strftime("%Y-%m-%d"), "revised": 0})
            received = pd.Timestamp(year + 1, 6, 30)
        for channel, count in channels:
            rows.append({**base, "channel": channel, "count": int(count),
                         "date_received": received.strftime("%Y-%m-%d"),
                         "revised": int(revised)})
    cols = ["service_id", "year", "channel", "count", "supplier", "counting_unit",
            "online_definition", "coverage", "date_received", "revised"]
    return pd.DataFrame(rows, columns=cols)


def targets(services: pd.DataFrame, years: range | list[int]) -> pd.DataFrame:
    """Targets per service and year (see the module doc): ``service_id, year, target,
    online_only, source, source_date``."""
    rows = []
    for _, s in services.iterrows():
        sid = s["service_id"]
        base = float(s["target_2016"]) if str(s["target_2016"]) else np.nan
        for year in years:
            if int(s["first_year"]) > year:
                continue
            only = sid in SERVICES and online_share(sid, year) >= 1.0
            plan = [p for p in PLANS if p[0] <= year]
            if only or not plan or not np.isfinite(base):
                rows.append({"service_id": sid, "year": year, "target": "",
                             "online_only": int(only), "source": "", "source_date": ""})
                continue
            _, add, cap, source, date = plan[-1]
            target = min(cap, base + add) if add else base
            rows.append({"service_id": sid, "year": year, "target": f"{target:.2f}",
                         "online_only": 0, "source": source, "source_date": date})
    return pd.DataFrame(rows)

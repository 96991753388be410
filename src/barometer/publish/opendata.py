"""Stage *publish*: open data (CSV + Parquet + Table Schema) written atomically.

Everything of an edition is written into a temporary folder beside the target, the data
package is validated with the ``frictionless`` library, and only then is the folder renamed
into place: a reader never sees half an edition. An existing edition is never replaced
unless ``force=True`` (then the old folder is swapped out and removed after the rename;
files barometer did not write there are carried over, never deleted). A non-empty folder
that is not an edition is never used.

Open data hold no microdata, and no number of a cell that the publication rules suppress:
such a row keeps its keys, its unweighted n, its status and the rule, with empty numbers.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from barometer.survey.ci import PROPORTION_METHODS
from barometer.survey.errors import BarometerError

if TYPE_CHECKING:
    from barometer.scoreboard.result import RunResult

# ------------------------------------------------------------------------ field specs
# Every column of every resource is described here, in French (``title``/``description``,
# the Table Schema properties data.gouv.fr shows) and in English (``title_en``/
# ``description_en``, custom properties, which Table Schema allows), with its unit (custom
# ``unit`` property, one of UNITS) and, for a closed set of values, an ``enum`` (or a
# ``pattern``) constraint. ``SHARED`` holds a field's default; a resource lists its fields
# in RESOURCES, with ``None`` for the shared default or a Field that overrides it (a field
# whose meaning differs in that resource). Writing a column that its resource does not
# declare is an error: a new resource or column is declared in RESOURCES (and, if it is
# shared, in SHARED) before it is written.

UNITS: dict[str, str] = {
    "proportion": "proportion between 0 and 1 (0.5 = 50 %)",
    "proportion difference": "difference of two proportions, between -1 and 1",
    "probability": "probability between 0 and 1",
    "count": "number (of answers, procedures, or units of the population)",
    "count difference": "difference of two counts (negative for a decrease)",
    "ratio": "ratio, 0 or more (1 = equal)",
    "relative difference": "relative difference (0 = equal)",
    "year": "calendar year",
    "indicator": "unit of the row's indicator (indicators.unit: proportion 0-1 for a "
                 "share, score points for a mean score)",
    "indicator difference": "difference in the unit of the row's indicator "
                            "(proportion points for a share, score points for a mean)",
    "log-odds": "natural logarithm of an odds ratio",
    "degrees of freedom": "degrees of freedom",
    "standard deviations": "number of standard errors",
    "date": "calendar date (ISO 8601)",
    "squared proportion": "variance or mean squared error of a proportion (proportion²)",
}
"""The units of the open data (the custom Table Schema property ``unit``)."""

POPULATIONS = ("individuals", "companies")
STATUSES = ("published", "caution", "suppressed", "undefined")
CI_METHODS = (*PROPORTION_METHODS, "clopper-pearson", "none")


@dataclass(frozen=True)
class Field:
    """A field's titles and descriptions (French, English), unit and closed set of values."""

    title_fr: str
    title_en: str
    description_fr: str
    description_en: str
    unit: str = ""
    enum: tuple[str, ...] = ()
    pattern: str = ""

    def descriptor(self, name: str, type_: str) -> dict[str, Any]:
        """The Table Schema field descriptor."""
        out: dict[str, Any] = {"name": name, "type": type_, "title": self.title_fr,
                               "description": self.description_fr,
                               "title_en": self.title_en,
                               "description_en": self.description_en}
        if self.unit:
            out["unit"] = self.unit
        constraints: dict[str, Any] = {}
        if self.enum:
            constraints["enum"] = list(self.enum)
        if self.pattern:
            constraints["pattern"] = self.pattern
        if constraints:
            out["constraints"] = constraints
        return out


F = Field
SHARED: dict[str, Field] = {
    "indicator": F("Indicateur", "Indicator",
                   "Identifiant de l'indicateur (ressource indicators)",
                   "Indicator identifier (indicators resource)"),
    "population": F("Population", "Population",
                    "Population enquêtée : particuliers (adultes de 18 ans ou plus) ou "
                    "entreprises", "Surveyed population: individuals (adults 18+) or "
                    "companies", enum=POPULATIONS),
    "basis": F("Unité de compte", "Unit counted",
               "Unité comptée : particuliers, entreprises, ou entreprises pondérées par "
               "leurs salariés", "Unit counted: individuals, companies, or companies "
               "weighted by their employees",
               enum=("individuals", "companies", "employees")),
    "by": F("Variable de ventilation", "Breakdown variable",
            "Variable de ventilation (all = ensemble de la population ; ressource domains)",
            "Breakdown variable (all = whole population; domains resource)"),
    "domain": F("Domaine", "Domain",
                "Code de la modalité de la variable de ventilation (all = ensemble ; "
                "ressource domains)",
                "Code of the category of the breakdown variable (all = whole "
                "population; domains resource)"),
    "estimate": F("Estimation", "Estimate",
                  "Estimation pondérée de l'indicateur : part (0 à 1) ou score moyen, "
                  "selon indicators.kind", "Weighted estimate of the indicator: a share "
                  "(0 to 1) or a mean score, as indicators.kind says", "indicator"),
    "se": F("Écart-type", "Standard error",
            "Écart-type de l'estimation selon le plan de sondage (pondération comprise)",
            "Design-based standard error of the estimate (weighting included)",
            "indicator"),
    "cv": F("Coefficient de variation", "Coefficient of variation",
            "Coefficient de variation : écart-type / estimation",
            "Coefficient of variation: standard error / estimate", "ratio"),
    "ci_low": F("Borne inférieure", "Lower bound",
                "Borne inférieure de l'intervalle de confiance de l'estimation",
                "Lower bound of the estimate's confidence interval", "indicator"),
    "ci_high": F("Borne supérieure", "Upper bound",
                 "Borne supérieure de l'intervalle de confiance de l'estimation",
                 "Upper bound of the estimate's confidence interval", "indicator"),
    "ci_method": F("Méthode de l'intervalle", "Interval method",
                   "Règle de l'intervalle de confiance de la cellule : logit pour une part "
                   "(part pondérée par les salariés comprise), clopper-pearson (intervalle "
                   "exact d'une part égale à 0 ou 1), wald pour un score moyen, none "
                   "(cellule non définie)", "Confidence-interval rule of the cell: logit "
                   "for a share (the employee-weighted share included), clopper-pearson "
                   "(exact interval of a share of exactly 0 or 1), wald for a mean score, "
                   "none (undefined cell)", enum=CI_METHODS),
    "ci_level": F("Niveau de confiance", "Confidence level",
                  "Niveau de confiance de l'intervalle", "Confidence level of the interval",
                  "probability"),
    "df": F("Degrés de liberté", "Degrees of freedom",
            "Degrés de liberté de l'intervalle (loi de Student ; inf = loi normale)",
            "Degrees of freedom of the interval (Student's t; inf = normal)",
            "degrees of freedom"),
    "deff": F("Effet de plan", "Design effect",
              "Effet de plan : variance estimée / variance d'un sondage aléatoire simple "
              "sans remise de même taille", "Design effect: estimated variance / variance "
              "under simple random sampling without replacement of the same size", "ratio"),
    "n": F("Effectif", "Unweighted n",
           "Nombre de réponses (non pondéré) dans la cellule",
           "Unweighted number of answers in the cell", "count"),
    "n_eff": F("Effectif efficace", "Effective n",
               "Taille d'échantillon efficace de Kish de la cellule",
               "Kish effective sample size of the cell", "count"),
    "method": F("Méthode de variance", "Variance method",
                "Méthode de variance : linéarisation (résidus de calage) ou réplications",
                "Variance method: linearisation (with weighting residuals) or replicates",
                pattern=r"linearization|linearization \(weighting residuals\)|"
                        r"replicates \(.+\)"),
    "status": F("Statut de diffusion", "Publication status",
                "Statut de diffusion de la cellule : published (diffusée), caution (à "
                "utiliser avec précaution), suppressed (secrétisée : nombres vides), "
                "undefined (0/0 par construction : aucune réponse au dénominateur)",
                "Publication status of the cell: published, caution (use with caution), "
                "suppressed (numbers left empty), undefined (0/0 by construction: no "
                "answer in the denominator)", enum=STATUSES),
    "rule": F("Règle de diffusion", "Publication rule",
              "Règle de diffusion qui a décidé du statut (effectif minimal, CV)",
              "Publication rule that decided the status (minimum n, CV)"),
    "year": F("Année", "Year", "Année de l'édition (année de l'enquête)",
              "Edition (survey year)", "year"),
    "service_id": F("Service", "Service", "Identifiant du service (ressource services)",
                    "Service identifier (services resource)"),
    "label_en": F("Libellé (anglais)", "Label (English)", "Libellé en anglais",
                  "Label in English"),
    "label_fr": F("Libellé", "Label (French)", "Libellé en français", "Label in French"),
    "ministry": F("Ministère", "Ministry", "Ministère ou opérateur qui gère le service",
                  "Ministry or agency running the service"),
    "audience": F("Usagers", "Users", "Usagers du service : particuliers ou entreprises",
                  "Users of the service: individuals or companies", enum=POPULATIONS),
}

_SHARE_TEXT = ("Part de démarches effectuées en ligne", "Share of procedures done online")


def _channel(fr: str, en: str) -> Field:
    return F(f"Démarches {fr}", f"Procedures {en}",
             f"Nombre de démarches effectuées {fr} dans l'année (vide si non transmis)",
             f"Number of procedures completed {en} in the year (empty if not received)",
             "count")


@dataclass(frozen=True)
class Resource:
    """A resource of the package: titles, descriptions, fields and keys."""

    title_fr: str
    title_en: str
    description_fr: str
    description_en: str
    fields: dict[str, Field | None]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = ()

    def field(self, name: str) -> Field:
        """The spec of field ``name`` (its override, else the shared default)."""
        if name not in self.fields:
            raise KeyError(name)
        return self.fields[name] or SHARED[name]


_DOMAIN_KEY = (("population", "by", "domain"), "domains", ("population", "by", "domain"))
_INDICATOR_KEY = (("indicator",), "indicators", ("id",))
_SERVICE_KEY = (("service_id",), "services", ("service_id",))
_ESTIMATE_FIELDS: dict[str, Field | None] = dict.fromkeys(
    ("indicator", "population", "basis", "by", "domain", "estimate", "se", "cv", "ci_low",
     "ci_high", "ci_method", "ci_level", "df", "deff", "n", "n_eff", "method", "status",
     "rule"))

RESOURCES: dict[str, Resource] = {
    "estimates": Resource(
        "Indicateurs par domaine, avec leur précision",
        "Scoreboard indicators by domain, with design-based precision",
        "Une ligne par indicateur et domaine pour l'édition ; une cellule secrétisée garde "
        "ses clés, son effectif, son statut et sa règle, nombres vides.",
        "One row per indicator and domain of the edition; a suppressed cell keeps its "
        "keys, n, status and rule, with empty numbers.",
        _ESTIMATE_FIELDS, ("indicator", "by", "domain"), (_INDICATOR_KEY, _DOMAIN_KEY)),
    "series": Resource(
        "Série des indicateurs par domaine, toutes éditions",
        "Indicators by domain, every edition of the series",
        "Les estimations de chaque édition (linéarisation pour les éditions antérieures), "
        "règles de diffusion appliquées.",
        "The estimates of every edition (linearisation for earlier editions), "
        "publication rules applied.",
        {**_ESTIMATE_FIELDS,
         "year": F("Année", "Year", "Édition (année de l'enquête) de l'estimation",
                   "Edition (survey year) of the estimate", "year")},
        ("indicator", "by", "domain", "year"), (_INDICATOR_KEY, _DOMAIN_KEY)),
    "trends": Resource(
        "Évolutions depuis l'édition précédente et la première",
        "Changes since the previous and the first edition",
        "Évolution de chaque indicateur par domaine ; les échantillons des éditions sont "
        "indépendants : écart-type de l'évolution = racine de la somme des variances.",
        "Change of every indicator by domain; the editions' samples are independent: "
        "SE of the change = square root of the sum of the two variances.",
        {"indicator": None, "population": None, "basis": None, "by": None, "domain": None,
         "year": None,
         "reference": F("Référence", "Reference",
                        "Édition de référence de l'évolution : previous (précédente) ou "
                        "first (première de la série)", "Reference edition of the change: "
                        "previous or first (of the series)", enum=("previous", "first")),
         "reference_year": F("Année de référence", "Reference year",
                             "Année de l'édition de référence",
                             "Year of the reference edition", "year"),
         "estimate": F("Estimation", "Estimate", "Estimation de l'édition (année year)",
                       "Estimate of the edition (year)", "indicator"),
         "reference_estimate": F("Estimation de référence", "Reference estimate",
                                 "Estimation de l'édition de référence",
                                 "Estimate of the reference edition", "indicator"),
         "change": F("Évolution", "Change",
                     "Évolution : estimation moins estimation de référence",
                     "Change: estimate minus reference estimate", "indicator difference"),
         "se": F("Écart-type de l'évolution", "Standard error of the change",
                 "Écart-type de l'évolution : racine de (écart-type de l'estimation² + "
                 "écart-type de référence²)", "Standard error of the change: sqrt(SE of "
                 "the estimate² + SE of the reference estimate²)", "indicator difference"),
         "z": F("Statistique z", "z statistic",
                "Statistique de test de l'évolution : évolution / écart-type de "
                "l'évolution (loi normale)", "Test statistic of the change: change / its "
                "standard error (normal distribution)", "standard deviations"),
         "p_value": F("p-valeur de l'évolution", "p-value of the change",
                      "p-valeur bilatérale du test de nullité de l'évolution (non ajustée "
                      "pour la multiplicité)", "Two-sided p-value of the test that the "
                      "change is zero (not adjusted for multiplicity)", "probability"),
         "p_adjusted": F("p-valeur ajustée", "Adjusted p-value",
                         "p-valeur ajustée par la méthode de Benjamini-Hochberg (taux de "
                         "fausses découvertes, sur les évolutions diffusées de même "
                         "référence)", "Benjamini-Hochberg adjusted p-value (false discovery "
                         "rate over the published changes with the same reference)",
                         "probability"),
         "significant_5pct": F("Significative à 5 %", "Significant at 5%",
                               "Vrai si la p-valeur ajustée (Benjamini-Hochberg) est "
                               "inférieure à 0,05 ; vide si non diffusée",
                               "True if the Benjamini-Hochberg adjusted p-value is below "
                               "0.05; empty if not published"),
         "status": F("Statut de diffusion", "Publication status",
                     "published si les deux estimations sont diffusables, suppressed sinon "
                     "(nombres vides)", "published if both estimates are publishable, else "
                     "suppressed (numbers left empty)", enum=STATUSES)},
        ("indicator", "by", "domain", "reference"), (_INDICATOR_KEY, _DOMAIN_KEY)),
    "admin_uptake": Resource(
        "Taux de dématérialisation des démarches, d'après les comptages administratifs",
        "Digital uptake of public services from administrative counts",
        "Une ligne par service, puis par ministère et pour l'ensemble des services ; un "
        "service sans comptage est manquant, jamais nul.",
        "One row per service, then per ministry and for all services; a service without "
        "counts is missing, never zero.",
        {"level": F("Niveau", "Level",
                    "Niveau d'agrégation : service, ministry (ministère), audience "
                    "(services d'un même public : particuliers ou entreprises) ou all "
                    "(ensemble des services)", "Aggregation level: service, ministry, "
                    "audience (the services of one audience: individuals or companies), "
                    "or all services", enum=("service", "ministry", "audience", "all")),
         "service_id": F("Service", "Service",
                         "Identifiant du service (ressource services ; vide pour un "
                         "ministère ou l'ensemble)", "Service identifier (services "
                         "resource; empty for a ministry or all services)"),
         "label_en": F("Libellé (anglais)", "Label (English)",
                       "Libellé anglais du service, nom du ministère, ou « all services »",
                       "English label of the service, the ministry's name, or "
                       "'all services'"),
         "ministry": None, "audience": None,
         "year": F("Année", "Year", "Année de référence des comptages",
                   "Reference year of the counts", "year"),
         "online": _channel("en ligne", "online (EDI included)"),
         "mail": _channel("par courrier", "by mail"),
         "counter": _channel("au guichet", "at a counter"),
         "phone": _channel("par téléphone", "by phone"),
         "total": F("Démarches, tous canaux", "Procedures, all channels",
                    "Nombre de démarches, tous canaux", "Number of procedures, all channels",
                    "count"),
         "uptake": F("Taux de dématérialisation", "Digital uptake",
                     "Démarches en ligne / démarches tous canaux",
                     "Procedures online / procedures on all channels", "proportion"),
         "channels_reported": F("Canaux transmis", "Channels reported",
                                "Canaux pour lesquels le fournisseur a transmis un comptage "
                                "(un canal non transmis est manquant, jamais nul)",
                                "Channels the supplier reported (an unreported channel is "
                                "missing, never zero)"),
         "partial_channels": F("Canaux incomplets", "Partial channels",
                               "Vrai si un canal n'est pas transmis : le taux est alors "
                               "calculé sur les canaux transmis (majorant)",
                               "True if a channel is unreported: the uptake is then "
                               "computed on the reported channels (an upper bound)"),
         "online_only": F("En ligne uniquement", "Online only",
                          "Vrai si le service n'est offert qu'en ligne cette année (taux de "
                          "100 % par construction)", "True if the service is offered online "
                          "only that year (uptake 100% by construction)"),
         "target": F("Cible", "Target",
                     "Part en ligne visée pour le service et l'année (targets.csv) ; vide : "
                     "pas de cible, service uniquement en ligne, ou agrégat",
                     "Target online share of the service for the year (targets.csv); "
                     "empty: no target, online-only service, or aggregate", "proportion"),
         "gap_to_target": F("Écart à la cible", "Gap to target",
                            "Taux de dématérialisation moins cible",
                            "Digital uptake minus target", "proportion difference"),
         "target_status": F("Atteinte de la cible", "Target status",
                            "met (atteinte), not met (non atteinte) ou not applicable (non "
                            "applicable, avec la raison : service uniquement en ligne, pas "
                            "de cible, pas de comptage, agrégat)", "met, not met, or not "
                            "applicable (with the reason: online-only service, no target, "
                            "no count, aggregate)",
                            pattern=r"met|not met|not applicable \(.+\)"),
         "target_source": F("Source de la cible", "Target source",
                            "Document qui fixe la cible", "Document setting the target"),
         "target_date": F("Date de la cible", "Target date",
                          "Date du document qui fixe la cible",
                          "Date of the document setting the target", "date"),
         "status": F("Statut des comptages", "Status of the counts",
                     "Pour un service : reported (comptages reçus) ou missing (non reçus) ; "
                     "pour un ministère ou l'ensemble : nombre de services agrégés, "
                     "« N services »", "For a service: reported (counts received) or "
                     "missing (not received); for a ministry or all services: the number "
                     "of services aggregated, 'N services'",
                     pattern=r"reported|missing|[0-9]+ services"),
         "revised": F("Révisé", "Revised",
                      "Vrai si un comptage de l'année a été révisé par son fournisseur",
                      "True if a count of the year was revised by its supplier"),
         "supplier": F("Fournisseur", "Supplier", "Fournisseur des comptages administratifs",
                       "Supplier of the administrative counts"),
         "date_received": F("Date de réception", "Date received",
                            "Date de réception des comptages", "Date the counts were "
                            "received", "date"),
         "composition": F("Composition", "Composition",
                          "Ligne de l'ensemble des services : nombre de services, part du "
                          "volume et taux de chaque public (particuliers, entreprises)",
                          "All-services row: each audience's number of services, share of "
                          "the volume and uptake")},
        ("level", "label_en"), (_SERVICE_KEY,)),
    "admin_revisions": Resource(
        "Révisions des comptages administratifs",
        "Revisions of the administrative counts",
        "Pour chaque comptage révisé : la première livraison et la livraison révisée "
        "(la plus récente, celle qu'utilise le baromètre), et l'effet sur le taux.",
        "For every revised count: the first supply and the revised one (the latest, the "
        "one the scoreboard uses), and the effect on the uptake.",
        {"service_id": None,
         "year": F("Année", "Year", "Année de référence des comptages",
                   "Reference year of the counts", "year"),
         "channel": F("Canal", "Channel", "Canal du comptage",
                      "Channel of the count", enum=("online", "mail", "counter", "phone")),
         "first_received": F("Première réception", "First received",
                             "Date de réception de la première livraison",
                             "Date the first supply was received", "date"),
         "revised_received": F("Réception révisée", "Revised received",
                               "Date de réception de la livraison révisée",
                               "Date the revised supply was received", "date"),
         "count_first": F("Comptage initial", "First count",
                          "Comptage de la première livraison", "Count in the first supply",
                          "count"),
         "count_revised": F("Comptage révisé", "Revised count",
                            "Comptage de la livraison révisée (utilisé)",
                            "Count in the revised supply (used)", "count"),
         "change": F("Révision", "Revision", "Comptage révisé moins comptage initial",
                     "Revised count minus first count", "count difference"),
         "relative_change": F("Révision relative", "Relative revision",
                              "Révision / comptage initial", "Revision / first count",
                              "relative difference"),
         "uptake_first": F("Taux initial", "First uptake",
                           "Taux de dématérialisation du service sur la première livraison",
                           "Digital uptake of the service on the first supply",
                           "proportion"),
         "uptake_revised": F("Taux révisé", "Revised uptake",
                             "Taux de dématérialisation du service sur la livraison révisée",
                             "Digital uptake of the service on the revised supply",
                             "proportion")},
        ("service_id", "year", "channel"), (_SERVICE_KEY,)),
    "coherence": Resource(
        "Estimations d'enquête et taux administratifs, par service",
        "Survey estimates beside administrative shares, per service",
        "Pour chaque service mesuré par l'enquête : la part en ligne déclarée et le taux "
        "administratif. Les deux sources mesurent des choses différentes (personnes et "
        "démarches).", "For every service the survey measures: the declared online share "
        "and the administrative uptake. The two sources measure different things (people "
        "and procedures).",
        {"service_id": None, "label_en": None,
         "year": F("Année", "Year", "Année de l'édition", "Year of the edition", "year"),
         "survey_item": F("Question", "Survey item",
                          "Question du questionnaire portant sur la même démarche",
                          "Questionnaire item about the same procedure"),
         "indicator": F("Indicateur", "Indicator",
                        "Indicateur qui mesure la part en ligne de la question (ressource "
                        "indicators ; vide s'il n'y en a pas)", "Indicator measuring the "
                        "item's online share (indicators resource; empty if none)"),
         "survey_estimate": F("Estimation d'enquête", "Survey estimate",
                              "Part en ligne parmi les usagers, selon l'enquête",
                              "Survey estimate of the online share among users",
                              "proportion"),
         "survey_ci_low": F("Borne inférieure (enquête)", "Survey lower bound",
                            "Borne inférieure de l'intervalle de l'estimation d'enquête",
                            "Lower bound of the survey estimate's interval", "proportion"),
         "survey_ci_high": F("Borne supérieure (enquête)", "Survey upper bound",
                             "Borne supérieure de l'intervalle de l'estimation d'enquête",
                             "Upper bound of the survey estimate's interval", "proportion"),
         "survey_status": F("Statut de l'estimation d'enquête", "Survey status",
                            "Statut de diffusion de l'estimation d'enquête (no estimate : "
                            "pas d'indicateur pour cette question)", "Publication status "
                            "of the survey estimate (no estimate: no indicator for the "
                            "item)", enum=(*STATUSES, "no estimate")),
         "admin_uptake": F("Taux administratif", "Administrative uptake",
                           "Taux de dématérialisation administratif du service",
                           "Administrative digital uptake of the service", "proportion"),
         "difference": F("Différence", "Difference",
                         "Estimation d'enquête moins taux administratif",
                         "Survey estimate minus administrative uptake",
                         "proportion difference"),
         "admin_within_survey_ci": F("Taux dans l'intervalle", "Admin inside interval",
                                     "Vrai si le taux administratif est dans l'intervalle "
                                     "de l'estimation d'enquête", "True if the "
                                     "administrative share lies in the survey interval"),
         "admin_status": F("Statut des comptages", "Status of the counts",
                           "Comptages du service : reported (reçus), missing (non reçus), "
                           "ou service uniquement en ligne (100 % par construction, non "
                           "comparé)", "Counts of the service: reported (received), missing, "
                           "or online-only service (100% by construction, not compared)",
                           pattern=r"reported|missing|online-only service.*")},
        ("service_id",), (_SERVICE_KEY, _INDICATOR_KEY)),
    "weighting_diagnostics": Resource(
        "Diagnostics de pondération, par population",
        "Weighting diagnostics per population",
        "Statistiques des poids finaux (kind = weights, une ligne par statistique name) et "
        "marges de calage atteintes (kind = margin, une ligne par contrainte).",
        "Statistics of the final weights (kind = weights, one row per statistic name) and "
        "calibration margins achieved (kind = margin, one row per constraint).",
        {"population": None,
         "kind": F("Type de ligne", "Kind of row",
                   "weights : statistique des poids ; margin : marge de calage",
                   "weights: a statistic of the weights; margin: a calibration margin",
                   enum=("weights", "margin")),
         "name": F("Statistique", "Statistic",
                   "Nom de la statistique des poids (n, sum, min, max, kish_deff...) ; vide "
                   "pour une marge", "Name of the weights statistic (n, sum, min, max, "
                   "kish_deff...); empty for a margin"),
         "value": F("Valeur", "Value",
                    "Valeur de la statistique, dans son unité (nombre, poids ou rapport) ; "
                    "vide pour une marge", "Value of the statistic, in its own unit "
                    "(count, weight or ratio); empty for a margin"),
         "constraint": F("Contrainte", "Constraint",
                         "Contrainte de calage (modalité de marge, nommage de R) ; vide "
                         "pour une statistique", "Calibration constraint (margin category, "
                         "R's naming); empty for a statistic"),
         "target_count": F("Total visé", "Target total",
                           "Total de population visé par la contrainte",
                           "Population total targeted by the constraint", "count"),
         "achieved": F("Total atteint", "Achieved total",
                       "Total pondéré atteint par les poids calés",
                       "Weighted total achieved by the calibrated weights", "count"),
         "rel_diff": F("Écart relatif", "Relative difference",
                       "(atteint - visé) / visé", "(achieved - target) / target",
                       "relative difference")}),
    "drivers": Resource(
        "Facteurs associés à l'usage en ligne et à la satisfaction : modèles logistiques",
        "Drivers of online use and satisfaction: design-based logistic models",
        "Coefficients de régressions logistiques pondérées (quasi-binomiales), variance "
        "selon le plan de sondage ; une ligne par coefficient.",
        "Coefficients of weighted (quasi-binomial) logistic regressions, design-based "
        "variance; one row per coefficient.",
        {"model": F("Modèle", "Model", "Identifiant du modèle (catalogue des indicateurs)",
                    "Driver model identifier (indicator catalogue)"),
         "population": None,
         "indicator": F("Indicateur expliqué", "Outcome indicator",
                        "Indicateur modélisé (ressource indicators)",
                        "Indicator modelled (indicators resource)"),
         "covariate": F("Covariable", "Covariate",
                        "Covariable du modèle ((Intercept) pour la constante)",
                        "Covariate of the model ((Intercept) for the constant)"),
         "term": F("Terme", "Term",
                   "Coefficient : la covariable suivie de sa modalité (nommage de R) ; la "
                   "première modalité dans l'ordre du questionnaire est la référence",
                   "Coefficient: the covariate followed by its category (R's naming); the "
                   "first category in the codebook's order is the reference"),
         "reference_category": F("Modalité de référence", "Reference category",
                                 "Modalité de référence de la covariable (rapport de cotes "
                                 "1 ; vide pour la constante)", "Reference category of the "
                                 "covariate (odds ratio 1; empty for the constant)"),
         "estimate": F("Coefficient", "Coefficient",
                       "Coefficient du modèle logistique, en log-cote (logarithme du "
                       "rapport de cotes face à la référence)", "Coefficient of the "
                       "logistic model, on the log-odds scale (log of the odds ratio "
                       "against the reference)", "log-odds"),
         "se": F("Écart-type du coefficient", "Standard error of the coefficient",
                 "Écart-type du coefficient selon le plan de sondage",
                 "Design-based standard error of the coefficient", "log-odds"),
         "odds_ratio": F("Rapport de cotes", "Odds ratio",
                         "Rapport de cotes face à la modalité de référence : "
                         "exp(coefficient)", "Odds ratio against the reference "
                         "category: exp(coefficient)", "ratio"),
         "or_ci_low": F("Borne inférieure du rapport de cotes", "Odds ratio lower bound",
                        "Borne inférieure de l'intervalle de confiance du rapport de cotes",
                        "Lower bound of the odds ratio's confidence interval", "ratio"),
         "or_ci_high": F("Borne supérieure du rapport de cotes", "Odds ratio upper bound",
                         "Borne supérieure de l'intervalle de confiance du rapport de cotes",
                         "Upper bound of the odds ratio's confidence interval", "ratio"),
         "p_value": F("p-valeur du coefficient", "p-value of the coefficient",
                      "p-valeur bilatérale du test t (plan de sondage) de nullité du "
                      "coefficient", "Two-sided p-value of the design-based t test that "
                      "the coefficient is zero", "probability"),
         "covariate_p_value": F("p-valeur de la covariable", "p-value of the covariate",
                                "p-valeur du test de Wald F (plan de sondage) de nullité de "
                                "tous les coefficients de la covariable",
                                "p-value of the design-based Wald F test that every "
                                "coefficient of the covariate is zero", "probability"),
         "df": F("Degrés de liberté", "Degrees of freedom",
                 "Degrés de liberté résiduels du modèle (plan de sondage)",
                 "Residual design degrees of freedom of the model", "degrees of freedom"),
         "n": F("Effectif du modèle", "Unweighted n of the model",
                "Nombre de réponses (non pondéré) utilisées par le modèle",
                "Unweighted number of answers used by the model", "count"),
         "n_level": F("Effectif de la modalité", "Unweighted n of the category",
                      "Nombre de réponses (non pondéré) dans la modalité",
                      "Unweighted number of answers in the category", "count"),
         "method": None,
         "status": F("Statut de diffusion", "Publication status",
                     "published, ou suppressed si la modalité compte trop peu de réponses "
                     "(nombres vides)", "published, or suppressed if the category has too "
                     "few answers (numbers left empty)", enum=STATUSES),
         "rule": F("Règle de diffusion", "Publication rule",
                   "Règle qui a décidé du statut (effectif minimal dans la modalité)",
                   "Rule that decided the status (minimum n in the category)"),
         "warning": F("Avertissement", "Warning",
                      "Avertissement de lecture : modalité clairsemée (peu de réponses avec "
                      "l'un des deux résultats) ou intervalle large (rapport des bornes du "
                      "rapport de cotes supérieur à 20) ; vide sinon", "Reading warning: "
                      "sparse category (few answers with one of the outcomes) or wide "
                      "interval (odds-ratio bounds more than a factor of 20 apart); empty "
                      "otherwise")},
        ("model", "term"), (_INDICATOR_KEY,)),
    "small_area_estimates": Resource(
        "Estimations régionales sur petits domaines (Fay-Herriot) et estimations directes",
        "Regional estimates, model-based (Fay-Herriot) beside direct",
        "Une ligne par indicateur et région : l'estimation directe (entrée du modèle), sa "
        "variance lissée, les covariables régionales, la prédiction synthétique et "
        "l'estimation sur modèle (EBLUP de Fay-Herriot) avec son erreur quadratique "
        "moyenne. Les nombres d'une cellule secrétisée sont vides.",
        "One row per indicator and region: the direct estimate (the model's input), its "
        "smoothed variance, the regional covariates, the synthetic prediction and the "
        "model-based estimate (Fay-Herriot EBLUP) with its mean squared error. A "
        "suppressed cell's numbers are empty.",
        {"indicator": None, "population": None,
         "region": F("Région", "Region", "Région (code INSEE)", "Region (INSEE code)"),
         "n": F("Effectif", "Unweighted n",
                "Nombre de réponses (non pondéré) dans la région",
                "Unweighted number of answers in the region", "count"),
         "direct": F("Estimation directe", "Direct estimate",
                     "Estimation directe (selon le plan de sondage) dans la région : "
                     "l'entrée du modèle (voir direct_status avant de la citer seule)",
                     "Direct (design-based) estimate in the region: the model's input "
                     "(see direct_status before quoting it on its own)", "proportion"),
         "direct_se": F("Écart-type direct", "Direct standard error",
                        "Écart-type de l'estimation directe selon le plan de sondage",
                        "Design-based standard error of the direct estimate",
                        "proportion"),
         "direct_status": F("Statut de l'estimation directe", "Direct status",
                            "Statut de l'estimation directe selon les règles de diffusion "
                            "des estimations directes", "Status of the direct estimate "
                            "under the direct publication rules", enum=STATUSES),
         "smoothed_var": F("Variance lissée", "Smoothed variance",
                           "Variance d'échantillonnage utilisée par le modèle : la variance "
                           "directe lissée par une fonction de variance généralisée (effet "
                           "de plan commun)", "Sampling variance the model used: the direct "
                           "variance smoothed by a pooled-design-effect generalised "
                           "variance function", "squared proportion"),
         "admin_tax_online": F("Covariable : déclarations de revenus en ligne",
                               "Covariate: income-tax returns online",
                               "Part des déclarations de revenus faites en ligne dans la "
                               "région (comptages administratifs ; vide si le modèle de "
                               "l'indicateur ne l'utilise pas)", "Online share of "
                               "income-tax returns in the region (administrative counts; "
                               "empty if the indicator's model does not use it)",
                               "proportion"),
         "internet_daily": F("Covariable : internet quotidien", "Covariate: daily internet",
                             "Part des adultes utilisant internet tous les jours (recensement "
                             "; vide si non utilisée)", "Share of adults using the internet "
                             "daily (census; empty if not used)", "proportion"),
         "age_65plus": F("Covariable : 65 ans ou plus", "Covariate: aged 65+",
                         "Part des adultes de 65 ans ou plus (recensement ; vide si non "
                         "utilisée)", "Share of adults aged 65+ (census; empty if not used)",
                         "proportion"),
         "admin_vat_online": F("Covariable : déclarations de TVA en ligne",
                               "Covariate: VAT returns online",
                               "Part des déclarations de TVA des entreprises faites en ligne "
                               "dans la région (comptages administratifs ; vide si non "
                               "utilisée)", "Online share of company VAT returns in the "
                               "region (administrative counts; empty if not used)",
                               "proportion"),
         "firms_10plus": F("Covariable : entreprises de 10 salariés ou plus",
                           "Covariate: companies with 10+ employees",
                           "Part des entreprises de 10 salariés ou plus (SIRENE ; vide si "
                           "non utilisée)", "Share of companies with 10+ employees (SIRENE; "
                           "empty if not used)", "proportion"),
         "synthetic": F("Prédiction synthétique", "Synthetic prediction",
                        "Prédiction de la régression à partir des covariables",
                        "The regression prediction from the covariates", "proportion"),
         "eblup": F("Estimation sur modèle", "Model-based estimate",
                    "Estimation sur modèle (EBLUP de Fay-Herriot) : moyenne pondérée de "
                    "l'estimation directe et de la prédiction synthétique",
                    "Model-based estimate (Fay-Herriot EBLUP): a weighted mean of the "
                    "direct estimate and the synthetic prediction", "proportion"),
         "mse": F("Erreur quadratique moyenne", "Mean squared error",
                  "Erreur quadratique moyenne estimée de l'estimation sur modèle",
                  "Estimated mean squared error of the model-based estimate",
                  "squared proportion"),
         "rrmse": F("Erreur relative", "Relative root-MSE",
                    "Racine de l'erreur quadratique moyenne / estimation sur modèle",
                    "Relative root-MSE of the model-based estimate: sqrt(mse) / eblup",
                    "ratio"),
         "ci_low": F("Borne inférieure", "Lower bound",
                     "Borne inférieure de l'intervalle de l'estimation sur modèle",
                     "Lower bound of the model-based estimate's interval", "proportion"),
         "ci_high": F("Borne supérieure", "Upper bound",
                      "Borne supérieure de l'intervalle de l'estimation sur modèle",
                      "Upper bound of the model-based estimate's interval", "proportion"),
         "shrinkage": F("Poids de l'estimation directe", "Weight of the direct estimate",
                        "Poids de l'estimation directe dans l'estimation sur modèle : "
                        "A / (A + D)", "Weight of the direct estimate in the model-based "
                        "one: A / (A + D)", "ratio"),
         "method": F("Méthode", "Method",
                     "Méthode de l'estimation sur modèle (ajustement, erreur quadratique "
                     "moyenne)", "Method of the model-based estimate (fit, mean squared "
                     "error)", pattern=r"model-based: .+"),
         "status": F("Statut de diffusion", "Publication status",
                     "Statut de l'estimation sur modèle selon la règle de l'erreur relative "
                     "(RRMSE)", "Status of the model-based estimate under the relative "
                     "root-MSE (RRMSE) rule", enum=STATUSES),
         "rule": F("Règle de diffusion", "Publication rule",
                   "Règle qui a décidé du statut (seuil de RRMSE)",
                   "Rule that decided the status (RRMSE threshold)")},
        ("indicator", "region"), (_INDICATOR_KEY,)),
    # ---- code lists
    "indicators": Resource(
        "Liste des indicateurs", "Code list: indicators",
        "Les indicateurs du baromètre : libellés, formulation de la question, type, unité "
        "et unité de compte.", "The scoreboard's indicators: labels, question wording, "
        "kind, unit and unit counted.",
        {"id": F("Identifiant", "Identifier", "Identifiant de l'indicateur",
                 "Indicator identifier"),
         "population": None,
         "label_fr": F("Libellé", "Label (French)", "Libellé de l'indicateur en français",
                       "Label of the indicator in French"),
         "label_en": F("Libellé (anglais)", "Label (English)",
                       "Libellé de l'indicateur en anglais", "Label of the indicator in "
                       "English"),
         "item": F("Question", "Survey item", "Question du questionnaire dont il est calculé",
                   "Questionnaire item it is computed from"),
         "wording_fr": F("Formulation de la question", "Question wording (French)",
                         "Formulation de la question en français, telle que posée",
                         "Wording of the question in French, as asked"),
         "wording_en": F("Formulation (anglais)", "Question wording (English)",
                         "Traduction anglaise de la formulation de la question",
                         "English translation of the question's wording"),
         "kind": F("Type", "Kind",
                   "share : part des réponses retenues parmi les réponses valides ; mean : "
                   "score moyen", "share: share of the counted answers among valid "
                   "answers; mean: mean score", enum=("share", "mean")),
         "unit": F("Unité", "Unit",
                   "Unité de estimation, se, ci_low, ci_high : proportion (0 à 1) ou score",
                   "Unit of estimate, se, ci_low, ci_high: proportion (0 to 1) or score",
                   enum=("proportion", "score")),
         "scale_min": F("Minimum", "Minimum", "Plus petite valeur possible de l'indicateur",
                        "Smallest possible value of the indicator", "indicator"),
         "scale_max": F("Maximum", "Maximum", "Plus grande valeur possible de l'indicateur",
                        "Largest possible value of the indicator", "indicator"),
         "basis": None,
         "universe": F("Champ", "Universe",
                       "Qui est compté : all (toute la population interrogée) ou filter "
                       "(le filtre de la question)", "Who is counted: all (everyone asked) "
                       "or filter (the item's filter)"),
         "headline": F("Indicateur phare", "Headline",
                       "Vrai si l'indicateur figure en tête du tableau de bord",
                       "True if the indicator is on the scoreboard's front page")},
        ("id",)),
    "domains": Resource(
        "Liste des domaines", "Code list: domains",
        "Les variables de ventilation et leurs modalités, par population, avec leurs "
        "libellés.", "The breakdown variables and their categories, per population, with "
        "their labels.",
        {"population": None, "by": F("Variable de ventilation", "Breakdown variable",
                                     "Variable de ventilation (all = ensemble)",
                                     "Breakdown variable (all = whole population)"),
         "by_label_fr": F("Libellé de la variable", "Variable label (French)",
                          "Libellé de la variable en français", "Variable label in French"),
         "by_label_en": F("Libellé de la variable (anglais)", "Variable label (English)",
                          "Libellé de la variable en anglais", "Variable label in English"),
         "domain": F("Domaine", "Domain", "Code de la modalité (all = ensemble)",
                     "Code of the category (all = whole population)"),
         "label_fr": F("Libellé du domaine", "Domain label (French)",
                       "Libellé de la modalité en français", "Category label in French"),
         "label_en": F("Libellé du domaine (anglais)", "Domain label (English)",
                       "Libellé de la modalité en anglais", "Category label in English")},
        ("population", "by", "domain")),
    "services": Resource(
        "Liste des services", "Code list: services",
        "Les services publics suivis par les comptages administratifs.",
        "The public services followed by the administrative counts.",
        {"service_id": F("Service", "Service", "Identifiant du service",
                         "Service identifier"),
         "label_fr": F("Libellé", "Label (French)", "Libellé du service en français",
                       "Label of the service in French"),
         "label_en": F("Libellé (anglais)", "Label (English)",
                       "Libellé du service en anglais", "Label of the service in English"),
         "ministry": None, "audience": None,
         "target_2016": F("Cible 2016", "2016 target",
                          "Part de démarches en ligne visée (cible 2016)",
                          "Target online share (2016 target)", "proportion"),
         "survey_item": F("Question", "Survey item",
                          "Question du questionnaire portant sur le service (vide sinon)",
                          "Questionnaire item about the service (empty if none)"),
         "first_year": F("Première année", "First year",
                         "Première année des comptages du service",
                         "First year of the service's counts", "year"),
         "last_year": F("Dernière année", "Last year",
                        "Dernière année des comptages du service (vide : toujours suivi)",
                        "Last year of the service's counts (empty: still followed)",
                        "year")},
        ("service_id",)),
}
"""Every resource of the open data; new resources are declared here (data, then code
lists)."""

OPEN_DATA = ("estimates", "admin_uptake", "admin_revisions", "coherence", "trends",
             "weighting_diagnostics", "drivers", "small_area_estimates")
CODE_LISTS = ("indicators", "domains", "services")
TABLE_TITLES = {k: r.title_en for k, r in RESOURCES.items()}


class PublishError(BarometerError):
    """Outputs cannot be written (an edition already published, an invalid package...)."""


def _field_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    return "string"


def _schema(stem: str, frame: pd.DataFrame, written: set[str]) -> dict[str, Any]:
    """The Table Schema of resource ``stem``: every column from RESOURCES, its primary key,
    and its foreign keys to the code lists written beside it (``written``)."""
    spec = RESOURCES.get(stem)
    if spec is None:
        raise PublishError("an open-data resource is not declared", value=stem,
                           where="barometer/publish/opendata.py RESOURCES",
                           hint="declare its titles, descriptions and fields in RESOURCES")
    undeclared = [c for c in frame.columns if c not in spec.fields]
    if undeclared:
        raise PublishError(f"columns of the open-data resource {stem!r} are not declared",
                           value=undeclared, where="barometer/publish/opendata.py RESOURCES",
                           hint="describe each column (French and English, unit) in RESOURCES")
    fields = [spec.field(c).descriptor(c, _field_type(frame[c])) for c in frame.columns]
    schema: dict[str, Any] = {"fields": fields, "missingValues": [""]}
    if spec.primary_key and set(spec.primary_key) <= set(frame.columns):
        schema["primaryKey"] = list(spec.primary_key)
    keys = [{"fields": list(here), "reference": {"resource": _resource_name(target),
                                                 "fields": list(there)}}
            for here, target, there in spec.foreign_keys
            if target in written and set(here) <= set(frame.columns)]
    if keys:
        schema["foreignKeys"] = keys
    return schema


def _resource_name(stem: str) -> str:
    return stem.replace("_", "-")


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Types that CSV, Parquet and Table Schema agree on (objects with booleans/None...)."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            non_null = s.dropna()
            if len(non_null) and non_null.map(lambda v: isinstance(v, bool)).all():
                out[col] = s.astype("boolean")
            else:
                out[col] = s.astype("string")
    return out


def write_open_data(folder: Path, tables: Mapping[str, pd.DataFrame], *, name: str,
                    title: str, description: str,
                    metadata: Mapping[str, Any] | None = None) -> Path:
    """Write each table as CSV and Parquet under ``folder`` with a ``datapackage.json``.

    ``title``/``description``: the package's (French for a publication); ``metadata``:
    further package properties (``title_en``, ``licenses``, ``sources``, ``contributors``,
    ``version``, ``created``...; see :func:`package_metadata`). Every table must be declared
    in RESOURCES.
    """
    folder.mkdir(parents=True, exist_ok=True)
    resources_ = []
    written = set(tables)
    for stem, frame in tables.items():
        frame = _normalise(frame)
        schema = _schema(stem, frame, written)
        frame.to_csv(folder / f"{stem}.csv", index=False, encoding="utf-8")
        frame.to_parquet(folder / f"{stem}.parquet", index=False)
        spec = RESOURCES[stem]
        resources_.append({
            "name": _resource_name(stem), "path": f"{stem}.csv",
            "profile": "tabular-data-resource",
            "title": spec.title_fr, "title_en": spec.title_en,
            "description": spec.description_fr, "description_en": spec.description_en,
            "format": "csv", "mediatype": "text/csv", "encoding": "utf-8", "schema": schema,
        })
    package: dict[str, Any] = {
        "profile": "tabular-data-package", "name": name, "title": title,
        "description": description,
        "licenses": [{"name": "etalab-2.0", "title": "Licence Ouverte / Open Licence 2.0",
                      "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"}],
    }
    package.update(metadata or {})
    package["resources"] = resources_
    path = folder / "datapackage.json"
    path.write_text(json.dumps(package, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


# ------------------------------------------------------------------ an edition's package
PUBLICATION_FILE = "publication.toml"


def load_publication(data_dir: Path | None = None) -> dict[str, Any]:
    """The publication metadata: ``<data_dir>/publication.toml`` if there is one, else the
    package default (``barometer/data/publication.toml``, which says its data are
    synthetic)."""
    own = Path(data_dir) / PUBLICATION_FILE if data_dir is not None else None
    try:
        if own is not None and own.is_file():
            text, where = own.read_text(encoding="utf-8"), str(own)
        else:
            text = resources.files("barometer").joinpath("data", PUBLICATION_FILE) \
                .read_text(encoding="utf-8")
            where = f"barometer/data/{PUBLICATION_FILE}"
        conf = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PublishError("the publication metadata is not valid TOML", where=where,
                           value=str(exc), hint="fix the file's syntax") from exc
    missing = [k for k in ("version", "name", "title_fr", "title_en", "description_fr",
                           "description_en", "license", "publisher", "contact", "source")
               if k not in conf]
    if missing:
        raise PublishError("the publication metadata lacks required entries", where=where,
                           value=missing, hint=f"copy barometer/data/{PUBLICATION_FILE} "
                           "and fill in every entry")
    return conf


def package_metadata(conf: Mapping[str, Any], year: int, created: str,
                     margins_sources: Mapping[str, str] = {}) -> dict[str, Any]:
    """Data Package properties of an edition (Data Package v1: ``title`` and
    ``description`` in French, ``title_en``/``description_en`` custom properties,
    ``licenses``, ``sources``, ``contributors``, ``version``, ``created``)."""

    def text(key: str) -> str:
        return " ".join(str(conf[key]).split()).replace("{year}", str(year))

    lic = conf["license"]
    sources = [{k: v for k, v in s.items() if k in ("title", "path", "email", "description")}
               for s in conf["source"]]
    sources += [{"title": f"Marges de calage / calibration margins ({pop}): {src}"}
                for pop, src in margins_sources.items() if src]
    contributors = [{**{k: v for k, v in conf["publisher"].items()}, "role": "publisher"},
                    {**{k: v for k, v in conf["contact"].items()}, "role": "maintainer"}]
    return {
        "name": text("name"), "title": text("title_fr"), "title_en": text("title_en"),
        "description": text("description_fr"), "description_en": text("description_en"),
        "version": str(conf["version"]), **({"created": created} if created else {}),
        "keywords": list(conf.get("keywords", [])),
        "licenses": [{"name": lic["name"], "path": lic["path"], "title": lic["title"]}],
        "sources": sources, "contributors": contributors,
        "synthetic": bool(conf.get("synthetic", False)),
    }


_ALL_LABELS = {"fr": "Ensemble", "en": "All"}
_DERIVED = {"size_10plus": {"fr": ("Taille (moins de 10 / 10 salariés ou plus)",
                                   {"<10": "moins de 10 salariés",
                                    "10+": "10 salariés ou plus"}),
                            "en": ("Size (fewer than 10 / 10 or more employees)",
                                   {"<10": "fewer than 10 employees",
                                    "10+": "10 employees or more"})}}


def code_lists(result: RunResult) -> dict[str, pd.DataFrame]:
    """The code lists of an edition: indicators (with the question wording), domains
    (every population x breakdown x category published) and services."""
    config = getattr(result.edition, "config", None)
    if config is not None:
        catalogue = config.catalogue  # the data folder's own, or the package's
    else:
        from barometer.scoreboard.indicators import load_catalogue

        catalogue = load_catalogue()
    cb = result.edition.codebook
    inds = []
    for ind in catalogue.indicators:
        try:
            item = cb.item(ind.population, ind.item)
            wording = (item.fr, item.en)
        except KeyError:
            wording = ("", "")
        share = ind.kind == "share"
        scores = list(ind.scores.values())
        inds.append({
            "id": ind.id, "population": ind.population, "label_fr": ind.label_fr,
            "label_en": ind.label_en, "item": ind.item, "wording_fr": wording[0],
            "wording_en": wording[1], "kind": ind.kind,
            "unit": "proportion" if share else "score",
            "scale_min": 0.0 if share else float(min(scores)),
            "scale_max": 1.0 if share else float(max(scores)),
            "basis": "individuals" if ind.population == "individuals" else ind.basis,
            "universe": ind.universe, "headline": bool(ind.headline)})
    tables = result.tables()
    keys = pd.concat([tables[t][["population", "by", "domain"]]
                      for t in ("estimates", "series", "trends")]).drop_duplicates()
    rows = []
    for pop, by, dom in keys.itertuples(index=False):
        row = {"population": pop, "by": by}
        for lang in ("fr", "en"):
            if by == "all":
                var, lab = _ALL_LABELS[lang], _ALL_LABELS[lang]
            elif by in _DERIVED:
                var, labels = _DERIVED[by][lang]
                lab = labels.get(dom, dom)
            else:
                try:
                    var = cb.variable(by).label(lang)
                except KeyError:
                    var = by
                try:
                    lab = cb.label(pop, by, dom, lang)
                except (KeyError, ValueError):
                    lab = dom
            row[f"by_label_{lang}"] = var
            row[f"label_{lang}"] = lab
        row["domain"] = dom
        rows.append(row)
    domains = pd.DataFrame(rows)[["population", "by", "by_label_fr", "by_label_en", "domain",
                                  "label_fr", "label_en"]]
    services = result.edition.services[[c for c in RESOURCES["services"].fields
                                        if c in result.edition.services]]
    return {"indicators": pd.DataFrame(inds), "domains": domains, "services": services}


def write_edition(result: RunResult, folder: Path, data_dir: Path | None = None) -> Path:
    """Write an edition's open data with its code lists and publication metadata (from
    :func:`load_publication`); ``created`` is the run record's timestamp."""
    conf = load_publication(data_dir)
    record = result.record
    meta = package_metadata(
        conf, result.year, str(record.get("created", "")),
        {pop: str(w.get("margins_source", "")) for pop, w in
         record.get("weighting", {}).items()})
    tables = {**result.tables(), **code_lists(result)}
    return write_open_data(folder, tables, name=meta.pop("name"), title=meta.pop("title"),
                           description=meta.pop("description"), metadata=meta)


def validate_package(path: Path) -> None:
    """Validate a data package with ``frictionless``; raise with its errors if invalid."""
    from frictionless import validate

    report = validate(str(path))
    if not report.valid:
        errors = report.flatten(["rowNumber", "fieldName", "type", "message"])
        raise PublishError("the open-data package does not validate", where=str(path),
                           value=errors[:5], hint="this is a bug: report it")


MANIFEST = "barometer-files.txt"
"""The list of files an edition's publication wrote (relative paths, one per line)."""

KNOWN_ENTRIES = ("opendata", "figures", "private", "run_record.json",
                 "methodology-note.md", "methodology-note.html", "methodology-note.fr.md",
                 "methodology-note.fr.html", "scoreboard.html", "scoreboard.fr.html")
"""Top-level entries an edition written without a manifest may hold (older editions)."""


def is_edition(folder: Path) -> bool:
    """True if ``folder`` holds an edition published by barometer (its manifest of
    written files, or, for an edition older than the manifest, its run record)."""
    return (Path(folder) / MANIFEST).is_file() or (Path(folder) / "run_record.json").is_file()


def _written_by_barometer(folder: Path) -> set[str]:
    """Relative paths of the files barometer wrote into an edition folder."""
    manifest = folder / MANIFEST
    if manifest.is_file():
        return {line for line in manifest.read_text(encoding="utf-8").splitlines() if line}
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and p.relative_to(folder).parts[0] in KNOWN_ENTRIES}


def check_target(out: Path, *, force: bool = False) -> None:
    """Refuse an output folder that cannot take an edition: a file; a non-empty folder
    that is not a barometer edition (even with ``force``); an edition without ``force``.
    """
    out = Path(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise PublishError("the output path is a file, not a folder", where=str(out),
                           hint="choose a folder for --out")
    if not any(out.iterdir()):
        return
    if not is_edition(out):
        raise PublishError(
            "the output folder is not empty and holds no barometer edition (no "
            "run_record.json); nothing was changed", where=str(out),
            hint="choose an empty or new folder for --out; --force replaces only an "
            "edition published by barometer")
    if not force:
        raise PublishError("this edition is already published; nothing was changed",
                           where=str(out),
                           hint="use --force to replace it, or choose another --out folder")


def publish_atomically(out: Path, writers: list[Callable[[Path], None]], *,
                       force: bool = False) -> Path:
    """Run ``writers`` into a temporary folder, then rename it to ``out``.

    Refuses what :func:`check_target` refuses; on any error nothing is left. Replacing an
    edition (``force``) removes only the files barometer wrote there (its manifest): any
    other file of the folder is carried over into the new edition, untouched.
    """
    out = Path(out).resolve()
    check_target(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for write in writers:
            write(tmp)
        written = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*")
                         if p.is_file())
        (tmp / MANIFEST).write_text("\n".join(written) + "\n", encoding="utf-8")
        if out.exists() and any(out.iterdir()):
            ours = _written_by_barometer(out) | {MANIFEST}
            for p in sorted(out.rglob("*")):
                rel = p.relative_to(out).as_posix()
                if p.is_file() and rel not in ours and not (tmp / rel).exists():
                    (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(p, tmp / rel)
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            old.rmdir()
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if out.exists():
                out.rmdir()  # an empty folder: no file is removed
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out

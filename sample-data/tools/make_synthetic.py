#!/usr/bin/env python3
"""Writes the SYNTHETIC Sotkanet files of the sample pipeline (see sample-data/NOTICE).

Deterministic: running it again writes the same bytes. Inputs are the real files beside it:
- statfin/11s5_population_by_municipality_2024M12.json: real population at 31.12.2024;
- ../registry/municipality_key_2013-2026.csv: municipality -> wellbeing services county (2025);
- sotkanet/regions_2015.json: Sotkanet region ids.

Outputs (shaped exactly like Sotkanet /rest/1.1/json responses):
- sotkanet/SYNTHETIC_127_population_2024.json: indicator 127 (population 31.12.), values copied
  from the real StatFin figures, for all municipalities and the whole country (id 658);
- sotkanet/SYNTHETIC_171_share_75plus_2024.json: indicator 171 (75+ as % of population) with
  absValue = an invented count of people aged 75+, from a county baseline plus deterministic
  per-municipality variation (smaller municipalities are older, as in the real data).
- statfin/SYNTHETIC_population_by_age_2014_2024.json: JSON-stat 2.0 shaped like StatFin 11re
  (population by single year of age), for the municipalities of Etelä-Savo, Pohjois-Savo and
  Keski-Pohjanmaa (2025 division) and the three counties, in 2014, 2018, 2019, 2022, 2023 and 2024,
  ages 0..99 and 100-, plus the all-ages total `SSS`. The 2024 totals are the real 11s5
  populations; the age structure is invented (a smooth pyramid tilted older where the county
  baseline above is older), earlier years scale it back with an invented trend. County rows are
  the sums of their municipalities.
"""
import csv
import hashlib
import math
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent.parent
ROOT = HERE.parent

# Invented county baselines for the share of people aged 75+, in per cent (not real figures;
# chosen so that older eastern and rural counties sit above the country, Helsinki below).
BASE = {"90": 8.4, "01": 11.0, "02": 8.6, "03": 9.0, "04": 7.4, "05": 12.1, "06": 14.6,
        "07": 13.4, "08": 11.3, "09": 14.0, "10": 15.2, "11": 15.0, "12": 17.6, "13": 14.2,
        "14": 15.3, "15": 12.6, "16": 14.1, "17": 12.0, "18": 11.2, "19": 10.1, "20": 16.0,
        "21": 14.4, "91": 11.0}


def jitter(code: str) -> float:
    h = int(hashlib.sha256(code.encode()).hexdigest()[:8], 16)
    return (h % 2001) / 1000.0 - 1.0  # -1.0 .. +1.0


def main() -> None:
    js = json.loads((HERE / "statfin/11s5_population_by_municipality_2024M12.json").read_text("utf-8"))
    alue = js["dimension"]["alue"]["category"]["index"]
    population = {code[2:]: int(v) for code, v in zip(alue, js["value"])}
    county = {}
    with open(ROOT / "registry/municipality_key_2013-2026.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["year"] == "2025":
                county[row["kunta_code"]] = row["hyvinvointialue_code"]
    regions = json.loads((HERE / "sotkanet/regions_2015.json").read_text("utf-8"))
    sotkanet_id = {r["code"]: r["id"] for r in regions if r["category"] == "KUNTA"}

    rows127, rows171 = [], []
    total_pop = total_75 = 0
    for code in sorted(population):
        pop = population[code]
        share = BASE[county[code]] + 1.5 * jitter(code) + (2.0 if pop < 5000 else 0.0)
        old = round(pop * share / 100.0)
        rid = sotkanet_id[code]
        rows127.append({"indicator": 127, "region": rid, "year": 2024, "gender": "total", "value": pop})
        rows171.append({"indicator": 171, "region": rid, "year": 2024, "gender": "total",
                        "value": round(100.0 * old / pop, 1), "absValue": old})
        total_pop += pop
        total_75 += old
    rows127.append({"indicator": 127, "region": 658, "year": 2024, "gender": "total", "value": total_pop})
    rows171.append({"indicator": 171, "region": 658, "year": 2024, "gender": "total",
                    "value": round(100.0 * total_75 / total_pop, 1), "absValue": total_75})
    for name, rows in (("SYNTHETIC_127_population_2024.json", rows127),
                       ("SYNTHETIC_171_share_75plus_2024.json", rows171)):
        (HERE / "sotkanet" / name).write_text(json.dumps(rows, indent=1) + "\n", "utf-8")


AGE_YEARS = [2014, 2018, 2019, 2022, 2023, 2024]
AGE_COUNTIES = ["12", "13", "18"]


def pyramid(age: int, tilt: float) -> float:
    """Relative size of a one-year age group: flat-ish working ages, fewer children, mortality
    after 70; `tilt` (0 = average) makes a municipality older or younger."""
    young = 0.82 + 0.18 * min(age, 25) / 25.0
    survival = 1.0 if age < 65 else math.exp(-(((age - 65) / 18.0) ** 2.2))
    return max(0.0, young * survival * (1.0 + tilt * (age - 42) / 42.0))


def population_by_age(population: dict, county: dict) -> dict:
    munis = sorted(c for c in population if county.get(c) in AGE_COUNTIES)
    ages = [str(a) for a in range(100)] + ["100-"]
    cells = {}
    for code in munis:
        base_share = BASE[county[code]]
        tilt = (base_share - 11.5) / 12.0 + 0.15 * jitter(code)
        trend = -0.006 + 0.004 * jitter(code + "trend") if population[code] < 20000 else 0.003
        for year in AGE_YEARS:
            total = population[code] * (1.0 + trend) ** (year - 2024)
            t = tilt - 0.01 * (2024 - year)
            weights = [pyramid(a, t) for a in range(101)]
            s = sum(weights)
            counts = [round(total * w / s) for w in weights]
            # The rounded ages add up to the (rounded) total: the largest age takes the remainder.
            counts[weights.index(max(weights))] += round(total) - sum(counts)
            cells[(f"KU{code}", year)] = counts
    for c in AGE_COUNTIES:
        for year in AGE_YEARS:
            members = [cells[(f"KU{m}", year)] for m in munis if county[m] == c]
            cells[(f"HVA{c}", year)] = [sum(col) for col in zip(*members)]
    areas = [f"KU{m}" for m in munis] + [f"HVA{c}" for c in AGE_COUNTIES]
    value = []
    for area in areas:
        for age_i in range(len(ages) + 1):
            for year in AGE_YEARS:
                counts = cells[(area, year)]
                value.append(sum(counts) if age_i == 0 else counts[age_i - 1])
    return {
        "version": "2.0",
        "class": "dataset",
        "label": "SYNTHETIC population by area, single year of age and year (shaped like StatFin 11re; not statistics)",
        "source": "mittari sample-data/tools/make_synthetic.py (SYNTHETIC)",
        "updated": "2026-11-22T00:00:00Z",
        "id": ["alue", "ika", "vuosi", "tiedot"],
        "size": [len(areas), len(ages) + 1, len(AGE_YEARS), 1],
        "role": {"geo": ["alue"], "time": ["vuosi"], "metric": ["tiedot"]},
        "dimension": {
            "alue": {"label": "Alue", "category": {"index": areas}},
            "ika": {"label": "Ikä", "category": {"index": ["SSS"] + ages,
                                                  "label": {"SSS": "Yhteensä", **{a: a for a in ages}}}},
            "vuosi": {"label": "Vuosi", "category": {"index": [str(y) for y in AGE_YEARS]}},
            "tiedot": {"label": "Tiedot", "category": {"index": ["vaesto"], "label": {"vaesto": "Väestö 31.12."},
                                                       "unit": {"vaesto": {"label": "henkilöä", "decimals": 0}}}},
        },
        "value": value,
    }


def write_population_by_age() -> None:
    js = json.loads((HERE / "statfin/11s5_population_by_municipality_2024M12.json").read_text("utf-8"))
    alue = js["dimension"]["alue"]["category"]["index"]
    population = {code[2:]: int(v) for code, v in zip(alue, js["value"])}
    county = {}
    with open(ROOT / "registry/municipality_key_2013-2026.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["year"] == "2025":
                county[row["kunta_code"]] = row["hyvinvointialue_code"]
    # Pertunmaa joined Mäntyharju in 2025: in the 2025 key it is gone, so it takes its former
    # county from 2024's key.
    with open(ROOT / "registry/municipality_key_2013-2026.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["year"] == "2024":
                county.setdefault(row["kunta_code"], row["hyvinvointialue_code"])
    doc = population_by_age(population, county)
    (HERE / "statfin/SYNTHETIC_population_by_age_2014_2024.json").write_text(
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8")


# KPA: invented cost and client figures of five service classes, by county; Etelä-Savo costs more
# per client than its peers. (class, target ages, base cost per client EUR, clients per 1 000 of the
# target group, unit name, units per client)
KPA_CLASSES = [
    ("Ikääntyneiden kotihoito", "75+", 15800.0, 95.0, "käynti", 180.0),
    ("Ympärivuorokautinen palveluasuminen", "75+", 62000.0, 70.0, "hoitopäivä", 330.0),
    ("Lastensuojelun sijaishuolto", "0-17", 88000.0, 14.0, "hoitopäivä", 280.0),
    ("Perusterveydenhuollon avosairaanhoito", "", 620.0, 780.0, "käynti", 3.1),
    ("Somaattinen erikoissairaanhoito", "", 5400.0, 310.0, "hoitojakso", 1.6),
]
KPA_LEVEL = {"12": 1.12, "13": 1.0, "18": 0.95}
KPA_FILES = {"12": ("SYNTHETIC_kpa_etela_savo_2022_2024.csv", "cp1252"),
             "13": ("SYNTHETIC_kpa_pohjois_savo_2022_2024.csv", "utf-8-sig"),
             "18": ("SYNTHETIC_kpa_keski_pohjanmaa_2022_2024.csv", "utf-8")}


def fi(x: float) -> str:
    """1234567.8 -> '1 234 567,80' (Finnish, two decimals)."""
    whole, frac = f"{x:,.2f}".split(".")
    return whole.replace(",", " ") + "," + frac


def write_kpa() -> None:
    doc = json.loads((HERE / "statfin/SYNTHETIC_population_by_age_2014_2024.json").read_text("utf-8"))
    areas = doc["dimension"]["alue"]["category"]["index"]
    ages = doc["dimension"]["ika"]["category"]["index"]
    years = doc["dimension"]["vuosi"]["category"]["index"]
    def pop(area, year, group):
        a, y = areas.index(area), years.index(str(year))
        total = 0
        for i, code in enumerate(ages):
            if code == "SSS":
                continue
            age = int(code.rstrip("-"))
            if group == "75+" and age < 75 or group == "0-17" and age > 17:
                continue
            total += doc["value"][(a * len(ages) + i) * len(years) + y]
        return total
    (HERE / "kpa").mkdir(exist_ok=True)
    for county, (name, encoding) in KPA_FILES.items():
        lines = ["Vuosi;Palveluluokka;Kustannukset €;Asiakkaat;Suoritteet;Suoriteyksikkö"]
        for year in (2022, 2023, 2024):
            for (cls, group, cost, rate, unit, per_client) in KPA_CLASSES:
                p = pop(f"HVA{county}", year, group)
                j = 1.0 + 0.05 * jitter(f"{county}{cls}{year}")
                clients = round(p * rate / 1000.0 * j)
                costs = clients * cost * KPA_LEVEL[county] * (1.0 + 0.03 * (year - 2022)) * (1.0 + 0.04 * jitter(cls + county))
                lines.append(f"{year};{cls};{fi(costs)};{clients};{round(clients * per_client)};{unit}")
            if county == "18":
                # A small class: fewer than 5 clients, to be suppressed.
                lines.append(f"{year};Vaativa erityishuolto;{fi(412000.0 + 1000 * (year - 2022))};3;;")
        lines.append("Yhteensä;;;;;")
        (HERE / "kpa" / name).write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    # An invented price index (2015 = 100), shaped like Statistics Finland's price index of public
    # expenditure for social and health care; not the real series.
    rows = ["Vuosi;Indeksi", "2021;113,2", "2022;118,6", "2023;124,9", "2024;128,4"]
    (HERE / "kpa" / "SYNTHETIC_price_index_2015_100.csv").write_text("\n".join(rows) + "\n", "utf-8")


# Service use, costs and morbidity for 2024 (Sotkanet /json form, every municipality): invented,
# with Etelä-Savo shaped like the Itä-Savo self-description (old, ill, heavy specialised care,
# light primary-care appointments, high costs). (indicator, national level, {county: factor})
PROFILE = [
    (6, 1450.0, {"12": 1.18, "13": 1.08, "18": 0.97}),      # specialised somatic days 75+ / 1 000
    (1552, 1150.0, {"12": 0.84, "13": 0.95, "18": 1.04}),   # primary-care physician visits / 1 000
    (1073, 4100.0, {"12": 1.13, "13": 1.06, "18": 1.01}),   # sote net costs, EUR / inhabitant
]
MORBIDITY = {"12": 121.0, "13": 116.0, "18": 104.0}  # THL morbidity index 243 (country = 100)


def write_profile_data() -> None:
    js = json.loads((HERE / "statfin/11s5_population_by_municipality_2024M12.json").read_text("utf-8"))
    codes = [c[2:] for c in js["dimension"]["alue"]["category"]["index"]]
    county = {}
    with open(ROOT / "registry/municipality_key_2013-2026.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["year"] in ("2024", "2025"):
                county.setdefault(row["kunta_code"], row["hyvinvointialue_code"])
    regions = json.loads((HERE / "sotkanet/regions_2015.json").read_text("utf-8"))
    sotkanet_id = {r["code"]: r["id"] for r in regions if r["category"] == "KUNTA"}
    for indicator, level, factors in PROFILE:
        rows = []
        for code in sorted(codes):
            f = factors.get(county[code], 1.0 + 0.06 * jitter(county[code] + str(indicator)))
            v = level * f * (1.0 + 0.05 * jitter(code + str(indicator)))
            rows.append({"indicator": indicator, "region": sotkanet_id[code], "year": 2024, "gender": "total",
                         "value": round(v, 1)})
        (HERE / "sotkanet" / f"SYNTHETIC_{indicator}_2024.json").write_text(json.dumps(rows, indent=1) + "\n", "utf-8")
    # The morbidity index is published per county and for the country (Sotkanet county ids 956-978).
    ids = {}
    with open(ROOT / "registry/sotkanet_hyvinvointialueet.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ids[f"{int(row['uusi_code']):02d}"] = int(row["uusi_id"])
    rows = [{"indicator": 243, "region": 658, "year": 2024, "gender": "total", "value": 100.0}]
    for c, rid in sorted(ids.items()):
        v = MORBIDITY.get(c, round(100.0 + 12.0 * jitter(c + "243"), 1))
        rows.append({"indicator": 243, "region": rid, "year": 2024, "gender": "total", "value": v})
    (HERE / "sotkanet" / "SYNTHETIC_243_2024.json").write_text(json.dumps(rows, indent=1) + "\n", "utf-8")


# Knowledge-management maturity surveys (method tjk-1): invented answers of two rounds per county.
DIM_TITLES = ["Tietojohtamisen johtaminen ja strategia", "Tietotarpeet ja mittarit", "Data ja sen laatu",
              "Järjestelmät, arkkitehtuuri ja kirjaaminen", "Analytiikka ja raportointi",
              "Päätöksenteko ja tiedon käyttö", "Osaaminen, roolit ja kulttuuri"]
LIKERT = ["Täysin eri mieltä", "Jokseenkin eri mieltä", "Ei samaa eikä eri mieltä", "Jokseenkin samaa mieltä",
          "Täysin samaa mieltä"]
ROLE_LABELS = ["Johto", "Järjestäjän asiantuntija", "Talous", "ICT", "Palvelulinja", "Muu"]
# County -> round -> (base level per dimension, respondents per role label)
SURVEYS = {
    "12": {"2020": ([2.1, 2.4, 1.9, 2.2, 2.0, 2.3, 2.5], [3, 3, 2, 2, 2, 0]),
           "2022": ([2.8, 3.0, 2.4, 2.7, 2.6, 2.9, 2.9], [3, 3, 2, 2, 2, 1])},
    "13": {"2020": ([2.5, 2.6, 2.3, 2.4, 2.6, 2.5, 2.7], [2, 3, 2, 2, 2, 0]),
           "2022": ([3.0, 3.1, 2.8, 2.9, 3.1, 3.0, 3.1], [3, 3, 2, 2, 1, 0])},
    # Keski-Pohjanmaa: only two from finance, so no finance role row is exported.
    "18": {"2020": ([2.2, 2.2, 2.0, 2.3, 2.1, 2.4, 2.6], [3, 3, 2, 1, 0, 0]),
           "2022": ([2.6, 2.7, 2.5, 2.6, 2.5, 2.8, 2.9], [3, 3, 2, 1, 1, 0])},
}
SURVEY_FILES = {"12": "etela_savo", "13": "pohjois_savo", "18": "keski_pohjanmaa"}


def write_surveys() -> None:
    d = HERE / "maturity"
    d.mkdir(exist_ok=True)
    items = []
    for k in range(1, 8):
        for j in (1, 2, 3):
            items.append((k, f"D{k}.{j}", "current", f"[D{k}.{j}] Nykytila: väite {j}"))
        items.append((k, f"D{k}.S", "satisfaction", f"[D{k}.S] Tyytyväisyys nykytilaan (1-5)"))
        items.append((k, f"D{k}.T", "target", f"[D{k}.T] Tavoitetaso 2025 (1-5)"))
    qmap = ["header_regex;item_id;dimension_id;answer_type;scale_min;scale_max;reverse_coded"]
    for (k, item, kind, _) in items:
        reverse = "1" if item == "D3.3" else "0"  # "tietoja joudutaan korjaamaan käsin" is reverse coded
        qmap.append(f"\\[{item.replace('.', '[.]')}\\];{item.replace('.', '_')};D{k};{kind};1;5;{reverse}")
    (d / "question_map.csv").write_text("\n".join(qmap) + "\n", "utf-8")
    for county, rounds in SURVEYS.items():
        for rnd, (base, per_role) in rounds.items():
            two_rows = county == "12" and rnd == "2020"
            group_row = ["", "", ""] + [DIM_TITLES[k - 1] if item.endswith(".1") else "" for (k, item, _, _) in items]
            header = ["Vastaajatunnus", "Vastausaika", "Rooli"] + [h for (_, _, _, h) in items]
            lines = []
            if two_rows:
                lines.append(";".join(group_row))
            lines.append(";".join(header))
            n = 0
            for r, count in enumerate(per_role):
                for i in range(count):
                    n += 1
                    rid = f"{county}-{rnd}-{n:03d}"
                    when = f"{12 + n % 10}.10.{rnd} 1{n % 10}:0{n % 6}" if county != "13" else str(44130 + 730 * (rnd == "2022") + n)
                    row = [rid, when, ROLE_LABELS[r]]
                    for (k, item, kind, _) in items:
                        v = base[k - 1] + 0.9 * jitter(f"{rid}{item}") + (0.4 if r == 0 else 0.0)
                        if kind == "target":
                            v = min(5, base[k - 1] + 1.4 + 0.3 * jitter(rid + item))
                        v = max(1, min(5, round(v)))
                        if item == "D3.3":
                            v = 6 - v
                        if kind == "current":
                            cell = LIKERT[v - 1]
                            if jitter(f"{rid}{item}eos") > 0.85:
                                cell = "En osaa sanoa"
                        else:
                            cell = str(v)
                        row.append(cell)
                    lines.append(";".join(row))
            lines.append("Yhteensä" + ";" * (len(header) - 1))
            name = f"SYNTHETIC_survey_{SURVEY_FILES[county]}_{rnd}.csv"
            encoding = "cp1252" if two_rows else ("utf-8-sig" if county == "13" else "utf-8")
            (d / name).write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))


# Roadmap workbooks (sheets Toimenpiteet and Virstanpylväät) per county: invented actions and
# milestones in every date form of the method. Needs openpyxl (`pip install openpyxl`).
ROADMAPS = {
    "12": [("ES-1", "Tietojohtamisen vastuut ja foorumi", "D1", "Hyvinvointialuejohtaja", "10/2020", "Q4/2022", "Käynnissä", 3.5, 2025, 2,
            [("ES-1.1", "Tietojohtamisen foorumi perustettu", "26.10.2020", "30.11.2020", "Valmis"),
             ("ES-1.2", "Vuosikello hyväksytty", "kevät 2021", "15.9.2021", "Valmis"),
             ("ES-1.3", "Tietostrategia hyväksytty", "syksy 2022", "", "Viivästynyt")]),
           ("ES-2", "Mittaristo ja tietotarpeet", "D2", "Kehittämisyksikkö", "2021", "H2 2023", "Käynnissä", 3.5, 2025, 1,
            [("ES-2.1", "Tietotarvekartoitus", "Q2/2021", "20.6.2021", "Valmis"),
             ("ES-2.2", "Strateginen mittaristo", "H1 2022", "", "Viivästynyt"),
             ("ES-2.3", "Mittariston julkaisu", "2023", "", "Ei aloitettu")]),
           ("ES-3", "Tiedon laadun hallinta", "D3, D4", "Tietohallinto", "1/2022", "2024", "Käynnissä", 3.0, 2025, 3,
            [("ES-3.1", "Laatupoikkeamien seuranta", "6/2022", "", "Peruttu"),
             ("ES-3.2", "Kirjaamisen ohjeistus", "Q4/2022", "1.3.2023", "Valmis"),
             ("ES-3.3", "Tietovarasto käytössä", "kevät 2024", "", "Käynnissä")])],
    "13": [("PS-1", "Johtamisjärjestelmän tietoperusta", "D1", "Johtoryhmä", "9/2020", "2022", "Valmis", 3.5, 2024, 1,
            [("PS-1.1", "Tietojohtamisen malli", "Q4/2020", "10.12.2020", "Valmis"),
             ("PS-1.2", "Johdon raportointi", "H1 2021", "31.5.2021", "Valmis")]),
           ("PS-2", "Analytiikkatiimi", "D5", "Talous- ja tietopalvelut", "2021", "2023", "Käynnissä", 3.5, 2025, 2,
            [("PS-2.1", "Tiimi rekrytoitu", "syksy 2021", "1.10.2021", "Valmis"),
             ("PS-2.2", "Itsepalveluraportointi", "kevät 2022", "20.5.2022", "Valmis"),
             ("PS-2.3", "Ennustemallit", "2023", "", "Käynnissä")])],
    "18": [("KP-1", "Tietojohtamisen kehittämisohjelma", "D1, D2", "Soite johtoryhmä", "11/2020", "2023", "Viivästynyt", 3.0, 2024, 1,
            [("KP-1.1", "Nykytilan arviointi", "26.10.2020", "26.10.2020", "Valmis"),
             ("KP-1.2", "Tavoitteet ja mittarit", "Q2/2021", "", "Viivästynyt"),
             ("KP-1.3", "Seurantamalli", "H2 2021", "", "Viivästynyt")])],
}


def write_roadmaps() -> None:
    from openpyxl import Workbook
    d = HERE / "maturity"
    for county, actions in ROADMAPS.items():
        wb = Workbook()
        a = wb.active
        a.title = "Toimenpiteet"
        a.append(["Tunnus", "Toimenpide", "Osa-alue", "Vastuutaho", "Alkaa", "Päättyy", "Tila", "Tavoitetaso",
                  "Tavoitevuosi", "Mittari", "Tavoitearvo", "Resurssit"])
        m = wb.create_sheet("Virstanpylväät")
        m.append(["Tunnus", "Toimenpide", "Virstanpylväs", "Suunniteltu pvm", "Toteutunut pvm", "Tila"])
        for (aid, title, dims, owner, start, due, status, level, year, effort, milestones) in actions:
            a.append([aid, title, dims, owner, start, due, status, level, year, None, None, effort])
            for (mid, mtitle, planned, done, mstatus) in milestones:
                m.append([mid, aid, mtitle, planned, done or None, mstatus])
        wb.save(d / f"SYNTHETIC_roadmap_{SURVEY_FILES[county]}.xlsx")


if __name__ == "__main__":
    main()
    write_population_by_age()
    write_kpa()
    write_profile_data()
    write_surveys()
    write_roadmaps()

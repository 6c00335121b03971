"""DuckDB peer of the national benchmark: the same work as `mittari run` on the generated data.

    python duckdb_peer.py DATA_DIR OUT_DIR

Reads the raw payloads (every Sotkanet `/json` file and the StatFin-shaped JSON-stat population)
with DuckDB's JSON reader, normalises them to one long observations table (region ids mapped to
codes through `regions.csv`), derives every indicator of `indicators.csv` at municipality, county
and country level with mittari's rules, and writes both as Parquet (zstd):

- a municipality's value is missing when its source value is; a county's or the country's sum is
  missing unless every municipality of it has a value (summed numerators and denominators,
  never averaged);
- share: sum(absValue) / sum(population) x 100; rate: sum(value x population) / sum(population);
  count: sum(value); index: as published at each level;
- official values first: a count's or a rate's value is the one published for the region and
  year (Sotkanet's municipal, county and country rows) where there is one; the sums above only
  where nothing is published (a share is recomputed: the generated sources declare no unit to
  match the indicator's);
- index_country = value / the country's value x 100.

The comparison is over the raw JSON (not mittari's normalised Parquet), which is the fairer one:
both sides parse the same bytes and do the same joins and group-bys.
"""

import sys

import duckdb


def main(data, out):
    con = duckdb.connect()
    con.execute(f"SET threads TO {__import__('os').cpu_count()}")
    con.execute(f"""
        CREATE TABLE reg AS SELECT * FROM read_csv('{data}/regions.csv', header=true,
            columns={{'sotkanet_id': 'BIGINT', 'code': 'VARCHAR', 'level': 'VARCHAR', 'county': 'VARCHAR'}});
        CREATE TABLE cat AS SELECT * FROM read_csv('{data}/indicators.csv', header=true,
            columns={{'indicator': 'VARCHAR', 'kind': 'VARCHAR', 'scale': 'DOUBLE'}});
        CREATE TABLE sot AS
        SELECT 'sotkanet:' || s.indicator AS dataset, CAST(s.indicator AS VARCHAR) AS measure,
               r.code AS region, r.level AS region_level, CAST(s.year AS SMALLINT) AS year,
               s.gender AS sex, s.value, s.absValue AS abs_value
        FROM read_json('{data}/sotkanet/*.json', format='array',
             columns={{'indicator': 'BIGINT', 'region': 'BIGINT', 'year': 'BIGINT',
                      'gender': 'VARCHAR', 'value': 'DOUBLE', 'absValue': 'DOUBLE'}}) s
        JOIN reg r ON r.sotkanet_id = s.region;
    """)
    # JSON-stat: the dense value array, each cell's coordinates from its position.
    con.execute(f"""
        CREATE TABLE js AS SELECT * FROM read_json('{data}/statfin/population_by_age.json',
            format='auto', maximum_object_size=2000000000,
            columns={{'size': 'BIGINT[]', 'dimension': 'JSON', 'value': 'DOUBLE[]',
                     'status': 'MAP(VARCHAR, VARCHAR)'}});
        CREATE TABLE dims AS SELECT
            CAST(json_extract(dimension, '$.alue.category.index') AS VARCHAR[]) AS alue,
            CAST(json_extract(dimension, '$.sukupuoli.category.index') AS VARCHAR[]) AS sukupuoli,
            CAST(json_extract(dimension, '$.ika.category.index') AS VARCHAR[]) AS ika,
            CAST(json_extract(dimension, '$.vuosi.category.index') AS VARCHAR[]) AS vuosi,
            size FROM js;
        CREATE TABLE st AS SELECT CAST(unnest(map_keys(status)) AS BIGINT) AS pos,
            unnest(map_values(status)) AS status FROM js;
        CREATE TABLE t_alue AS SELECT unnest(alue) AS v, generate_subscripts(alue, 1) - 1 AS i FROM dims;
        CREATE TABLE t_sex AS SELECT unnest(sukupuoli) AS v, generate_subscripts(sukupuoli, 1) - 1 AS i FROM dims;
        CREATE TABLE t_ika AS SELECT unnest(ika) AS v, generate_subscripts(ika, 1) - 1 AS i FROM dims;
        CREATE TABLE t_vuosi AS SELECT unnest(vuosi) AS v, generate_subscripts(vuosi, 1) - 1 AS i FROM dims;
        CREATE TABLE pop AS
        WITH sz AS (SELECT size[2] AS n_sex, size[3] AS n_age, size[4] AS n_year FROM dims),
        cells AS (SELECT unnest(value) AS v, generate_subscripts(value, 1) - 1 AS pos FROM js),
        c AS (SELECT v, pos,
                     pos // (n_sex * n_age * n_year) AS ia,
                     (pos // (n_age * n_year)) % n_sex AS isx,
                     (pos // n_year) % n_age AS iag,
                     pos % n_year AS iy
              FROM cells, sz)
        SELECT 'statfin:11re' AS dataset, 'vaesto' AS measure, a.v AS region,
               'municipality' AS region_level, CAST(y.v AS SMALLINT) AS year,
               CASE x.v WHEN 'SSS' THEN 'total' WHEN '1' THEN 'male' ELSE 'female' END AS sex,
               CASE g.v WHEN 'SSS' THEN 'total' ELSE g.v END AS age,
               c.v AS value, st.status
        FROM c JOIN t_alue a ON a.i = c.ia JOIN t_sex x ON x.i = c.isx JOIN t_ika g ON g.i = c.iag
        JOIN t_vuosi y ON y.i = c.iy LEFT JOIN st USING (pos);
    """)
    con.execute(f"""
        COPY (SELECT dataset, measure, region, region_level, year, sex, 'total' AS age, value, abs_value,
                     NULL::VARCHAR AS status FROM sot
              UNION ALL
              SELECT dataset, measure, region, region_level, year, sex, age, value, NULL::DOUBLE, status FROM pop)
        TO '{out}/observations.parquet' (FORMAT parquet, COMPRESSION zstd);
    """)
    # Indicators.
    con.execute(f"""
        CREATE TABLE munis AS SELECT code AS region, county FROM reg WHERE level = 'municipality';
        CREATE TABLE expected AS
            SELECT county AS region, count(*) AS n FROM munis GROUP BY county
            UNION ALL SELECT 'SSS', count(*) FROM munis;
        CREATE TABLE p AS SELECT region, year, value AS p FROM pop WHERE sex = 'total' AND age = 'total';
        -- Municipal x (numerator) and d (denominator) per indicator, region, year.
        CREATE TABLE parts AS
        SELECT 'i' || s.measure AS indicator, c.kind, c.scale, m.region, m.county, s.year,
               CASE c.kind WHEN 'share' THEN s.abs_value WHEN 'rate' THEN s.value * p.p ELSE s.value END AS x,
               CASE c.kind WHEN 'share' THEN p.p WHEN 'rate' THEN p.p ELSE NULL END AS d
        FROM sot s JOIN cat c ON c.indicator = s.measure JOIN munis m ON m.region = s.region
        LEFT JOIN p ON p.region = s.region AND p.year = s.year
        WHERE s.sex = 'total'
        UNION ALL
        SELECT 'population', 'count', 1, m.region, m.county, p.year, p.p, NULL
        FROM p JOIN munis m USING (region);
        CREATE TABLE up AS
        SELECT indicator, kind, scale, county AS region, year,
               CASE WHEN count(x) = e.n THEN sum(x) END AS x,
               CASE WHEN count(d) = e.n THEN sum(d) END AS d
        FROM parts JOIN expected e ON e.region = parts.county
        GROUP BY indicator, kind, scale, county, year, e.n
        UNION ALL
        SELECT indicator, kind, scale, 'SSS', year,
               CASE WHEN count(x) = e.n THEN sum(x) END,
               CASE WHEN count(d) = e.n THEN sum(d) END
        FROM parts JOIN expected e ON e.region = 'SSS'
        GROUP BY indicator, kind, scale, year, e.n;
        CREATE TABLE levels AS
        SELECT indicator, kind, scale, region, year, x, d FROM parts
        UNION ALL SELECT indicator, kind, scale, region, year, x, d FROM up;
        CREATE TABLE ind AS
        SELECT l.indicator, l.region, l.year,
               CASE WHEN l.kind = 'index' THEN s.value
                    WHEN l.kind IN ('count', 'rate') AND s.value IS NOT NULL THEN s.value * l.scale
                    WHEN l.kind = 'count' THEN l.x
                    WHEN l.d = 0 THEN NULL
                    ELSE l.x / l.d * l.scale END AS value,
               l.x AS numerator, l.d AS denominator
        FROM levels l
        LEFT JOIN sot s ON l.kind IN ('index', 'count', 'rate') AND 'i' || s.measure = l.indicator
             AND s.region = l.region AND s.year = l.year AND s.sex = 'total';
        COPY (SELECT i.*, i.value / c.value * 100 AS index_country
              FROM ind i LEFT JOIN ind c ON c.indicator = i.indicator AND c.year = i.year AND c.region = 'SSS')
        TO '{out}/indicators.parquet' (FORMAT parquet, COMPRESSION zstd);
    """)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

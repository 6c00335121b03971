"""Validates TOML files against a JSON Schema, as a TOML editor would (tests/it/schema.rs).

Usage: check_schema.py SCHEMA FILE...

Prints a JSON object: for each file, the list of its errors (JSON pointer and message); an empty
list when the file is valid. The schema itself is checked against its metaschema first.
"""

import json
import sys
import tomllib

import jsonschema

schema = json.load(open(sys.argv[1], encoding="utf-8"))
validator_class = jsonschema.validators.validator_for(schema)
validator_class.check_schema(schema)
validator = validator_class(schema)
result = {}
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        document = tomllib.load(f)
    result[path] = [
        {"at": "/" + "/".join(str(p) for p in e.absolute_path), "message": e.message}
        for e in validator.iter_errors(document)
    ]
print(json.dumps(result))
